"""``python -m karting <command>``: the same as the ``karting`` command."""
import sys

from .cli import main

sys.exit(main())
