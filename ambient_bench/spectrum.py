"""``python -m ambient_bench.spectrum DATASET_DIR ...``: the action-chunk spectrum figure (``ambient_bench.report.spectrum``)."""

from .report.spectrum import main

if __name__ == "__main__":
    main()
