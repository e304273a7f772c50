"""Writing a matplotlib figure as a PNG, atomically (temp file, then rename), and closing it."""

from __future__ import annotations

import io
from pathlib import Path

from ..data import atomic_write_bytes


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
