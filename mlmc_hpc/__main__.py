"""``python -m mlmc_hpc``: the command line, through :mod:`mlmc_hpc.entry` (thread caps first)."""

import sys

from .entry import main

sys.exit(main())
