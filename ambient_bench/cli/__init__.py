"""Command lines: run (the pipeline), bench (speed figures), compare (a run beside the reference)."""
