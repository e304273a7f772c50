"""``python -m ambient_bench.bench``: speed figures (``ambient_bench.cli.bench``)."""

import sys

from .cli.bench import main

if __name__ == "__main__":
    sys.exit(main())
