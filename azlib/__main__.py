"""``python -m azlib <command>``: see :mod:`azlib.cli`."""

import sys

from azlib.cli import main

if __name__ == "__main__":
    sys.exit(main())
