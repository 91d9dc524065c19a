"""``python -m trustfit.batch MODEL DATA --p0 ...``: see :mod:`trustfit.batch.cli`."""

import sys

from .cli import run_batch_cli

sys.exit(run_batch_cli())
