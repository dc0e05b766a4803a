"""``python -m pa100k``."""

import sys

from pa100k.cli import main

if __name__ == "__main__":
    sys.exit(main())
