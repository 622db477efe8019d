"""``npthreads publish``: the site from the results (``site.publish``)."""

from . import asvrun, site
from .profiles import PROFILES, active_profile


def add_arguments(parser):
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="publish this profile's results (default: 'default')")


def run(args):
    profile = args.profile or active_profile()
    root = asvrun.repo_root()
    conf = asvrun.load_config(root)
    config = asvrun.profile_config(root, profile)
    return site.publish(root, config, asvrun.asv_environ(conf, profile))
