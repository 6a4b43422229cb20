"""``python -m circlearn`` (and ``torchrun -m circlearn train ...``) runs the command line."""

import sys

from circlearn.cli import main

if __name__ == "__main__":
    sys.exit(main())
