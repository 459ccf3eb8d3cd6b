"""`python -m karting.telemetry`: see :mod:`karting.telemetry.cli`."""
import sys

from .cli import main

sys.exit(main())
