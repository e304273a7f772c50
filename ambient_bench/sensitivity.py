"""``python -m ambient_bench.sensitivity CHECKPOINT ... --dataset DATASET_DIR``: the denoiser-locality figure (``ambient_bench.report.sensitivity``)."""

from .report.sensitivity import main

if __name__ == "__main__":
    main()
