"""``python -m ambient_bench.run``: the pipeline's command line (``ambient_bench.cli.run``)."""

import sys

from .cli.run import main

if __name__ == "__main__":
    sys.exit(main())
