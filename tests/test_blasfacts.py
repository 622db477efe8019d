from npthreads import blasfacts


def test_versions_round_trip():
    assert blasfacts.version_number("0.3.31.188.0") == 331
    assert blasfacts.version_number("0.3.23.dev") == 323
    assert blasfacts.version_text(331) == "0.3.31"
    assert blasfacts.version_number(None) == 0


def test_categorical_facts_round_trip_and_unknowns_are_zero():
    code = blasfacts.encode(blasfacts.ARCHITECTURES, "SkylakeX")
    assert code > 0 and blasfacts.decode(blasfacts.ARCHITECTURES, code) == "SkylakeX"
    assert blasfacts.encode(blasfacts.ARCHITECTURES, "NoSuchCore") == 0
    assert blasfacts.decode(blasfacts.LIBRARIES, 999) == "unknown"


def test_describe_reads_threadpoolctl_info():
    facts = blasfacts.describe({"internal_api": "openblas", "version": "0.3.27",
                                "threading_layer": "pthreads", "architecture": "Zen",
                                "num_threads": 4})
    assert facts == {"library": 1, "version": 327, "threading_layer": 1,
                     "architecture": blasfacts.ARCHITECTURES.index("Zen"),
                     "default_threads": 4}
