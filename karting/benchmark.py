"""``python -m karting.benchmark``: the form this command had before it was named for what it
measures; the driver benchmark is :mod:`karting.generalisation` (``karting generalisation``)."""
import sys

from .generalisation import main

if __name__ == "__main__":
    sys.exit(main())
