"""``python -m ambient_bench.datasets``: export a suite's datasets (``ambient_bench.cli.datasets``)."""

import sys

from .cli.datasets import main

if __name__ == "__main__":
    sys.exit(main())
