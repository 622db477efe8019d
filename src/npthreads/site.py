"""``npthreads publish``: turn results into the HTML site.

For now this is asv's own ``asv publish``; the offline UI and the report
pages are built on top of it (see the site issue)."""

from . import asvrun
from .profiles import PROFILES, active_profile


def add_arguments(parser):
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="publish this profile's results (default: 'default')")


def publish(root, config, env):
    return asvrun.asv(["publish", "--config", str(config)], env, root)


def run(args):
    profile = args.profile or active_profile()
    root = asvrun.repo_root()
    conf = asvrun.load_config(root)
    config = asvrun.profile_config(root, profile)
    return publish(root, config, asvrun.asv_environ(conf, profile))
