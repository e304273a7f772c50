"""``python -m ambient_bench.compare``: a run beside the committed reference (``ambient_bench.cli.compare``)."""

import sys

from .cli.compare import main

if __name__ == "__main__":
    sys.exit(main())
