import sys

from flockops.cli import run

sys.exit(run())
