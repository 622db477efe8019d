"""The round as the unit of evidence: cutting samples into rounds, the noise
model and its calibration by the negative control, and the judgement."""

import math

import pytest

from npthreads import evidence
from npthreads.results import Measurement


def measurement(samples, per_round=3):
    return Measurement(machine="m", env_name="e", commit="c", benchmark="b.C.time_x",
                       params={}, value=None, status="ok", unit="seconds",
                       samples=samples, per_round=per_round)


def test_rounds_are_the_medians_of_consecutive_samples():
    samples = [1.0, 9.0, 1.1, 2.0, 2.2, 2.1]          # one preempted call in round 1
    assert evidence.rounds_of(measurement(samples)) == [1.1, 2.1]
    # samples that do not divide into rounds (results before issue 8): each
    # sample counts as a round, as the old comparison did
    assert evidence.rounds_of(measurement(samples[:5])) == samples[:5]
    assert evidence.rounds_of(measurement([1.0, float("nan"), 2.0], per_round=None)) == [1.0, 2.0]


def test_bimodal_rounds_are_split_and_described():
    rounds = [11e-3, 12e-3, 110e-3, 11.5e-3, 105e-3, 11e-3]
    fast, slow = evidence.bimodal_split(rounds)
    assert len(fast) == 4 and len(slow) == 2
    text = evidence.describe_distribution(rounds, lambda v: f"{v * 1e3:.0f} ms")
    assert text == "4/6 rounds ~11 ms, 2/6 ~108 ms"
    assert evidence.bimodal_split([1.0, 1.1, 1.2, 1.3]) is None
    assert "span" in evidence.disturbed([1.0, 1.2, 1.4, 1.6])
    assert evidence.disturbed([1.0, 1.02, 0.99]) == ""


def test_noise_is_pooled_over_environments_and_calibrated_by_the_control():
    key = ("b.C.time_x", ())
    quiet = {("a", "c1"): {key: [1.00, 1.01, 0.99, 1.00, 1.02, 0.98]},
             ("b", "c1"): {key: [2.00, 2.02, 1.98, 2.00, 2.04, 1.96]}}
    noise = evidence.build_noise(quiet)
    assert noise.sigma[key] == pytest.approx(1.4826 * 0.01, rel=0.01)  # MAD 0.01
    assert noise.calibration == 1.0 and not noise.control_pair
    res = noise.resolution(key, 6, 6)
    assert 1.02 < res < 1.06
    # a control pair 10% apart on a row whose rounds say 1%: the
    # calibration widens every resolution beyond that gap
    twins = dict(quiet)
    twins[("c", "c1")] = {key: [1.10, 1.11, 1.09, 1.10, 1.12, 1.08]}
    noise = evidence.build_noise(twins, [(("a", "c1"), ("c", "c1"))])
    assert noise.control_pair == (("a", "c1"), ("c", "c1")) and noise.calibration > 3
    assert noise.resolution(key, 6, 6) > 1.10


def test_a_row_that_moves_between_sessions_gets_a_wider_resolution():
    """Environment x session interaction: in one environment the row moves
    by 30% between two sessions while the others hold; its resolution then
    covers that move, a steady row's does not widen."""
    steady = {"a": {"s1": 0.0, "s2": 0.0}, "b": {"s1": 0.5, "s2": 0.5},
              "c": {"s1": 1.0, "s2": 1.0}}
    moving = {"a": {"s1": 0.0, "s2": 0.0}, "b": {"s1": 0.5, "s2": 0.5 + math.log(1.3)},
              "c": {"s1": 1.0, "s2": 1.0}}
    assert evidence.interaction_sd(steady) == pytest.approx(0.0)
    sd = evidence.interaction_sd(moving)
    assert 0.1 < sd < 0.2
    assert evidence.interaction_sd({"a": {"s1": 0.0}, "b": {"s1": 1.0}}) is None  # one session
    noise = evidence.Noise(sigma={"k": 0.01}, session={"k": sd})
    assert noise.resolution("k", 6, 6) > 1.3 > evidence.Noise(sigma={"k": 0.01}).resolution(
        "k", 6, 6)


def test_judgement_needs_the_change_beyond_resolution_and_separated_rounds():
    a = [1.00, 1.01, 0.99, 1.00, 1.02, 0.98]
    slower = [1.2 * x for x in a]
    j = evidence.judge(a, slower, 1.05, 1.05)
    assert j.direction == 1 and j.separated and j.p < evidence.ROUND_ALPHA
    j = evidence.judge(a, slower, 1.3, 1.05)           # within its resolution
    assert j.direction == 0 and j.threshold == 1.3
    mixed = [1.0, 1.8, 1.0, 1.8, 1.8, 1.8]             # a bimodal cell
    j = evidence.judge(a, mixed, 1.05, 1.05)
    assert j.bimodal and j.share_changed and j.direction == 0   # shown, not gated
    # all rounds separate and the fast rounds moved too: a change
    shifted = [1.3, 2.2, 1.3, 2.2, 2.2, 2.2]
    j = evidence.judge(a, shifted, 1.05, 1.05)
    assert j.bimodal and j.direction == 1 and j.separated
    assert evidence.judge(a[:2], slower[:2], 1.05, 1.05).too_few
