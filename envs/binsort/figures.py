"""The report's figures for bin sorting, rendered offscreen with MuJoCo (needs GL): the
scene, and a strip of frames from each selected policy's stored test rollout."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ambient_bench.data import atomic_write_bytes
from ambient_bench.registry import FIGURES
from ambient_bench.task import SuiteFigures

from .scene import RED
from .sim import BinSortSim
from .task import BinSortTask

log = logging.getLogger(__name__)

FRAME_HEIGHT_PX, FRAME_WIDTH_PX = 240, 320
FRAMES_PER_ROLLOUT = 6


@FIGURES.register("binsort")
class BinSortFigures(SuiteFigures):
    """Rendered frames of the scene and of each selected policy's replayed test rollout."""

    def render_scene(self, task_params: dict[str, Any], path: str | Path, seed: int) -> bool:
        """A rendered first frame of episode ``seed`` (False if no GL)."""
        return render_frame(path, seed, BinSortTask(**task_params).n_blocks)

    def plot_rollouts(self, records_by_label: dict[str, list[dict[str, Any]]], task_params: dict[str, Any],
                      path: Path) -> bool:
        """One row of frames per policy: its first test episode, replayed from the actions
        its record stored (``BinSortTask.REPLAYED_EPISODES``), so no policy runs here."""
        rollouts = {label: next((r for r in records if "actions" in r), None) for label, records in records_by_label.items()}
        rollouts = {label: record for label, record in rollouts.items() if record is not None}
        if not rollouts:
            return False
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "rollouts.json"
            spec.write_text(json.dumps(rollouts))
            code = ("from ambient_bench.envs.binsort.figures import _render_rollouts_in_this_process as r; "
                    f"r({str(spec)!r}, {str(path)!r})")
            return _render_in_child(code, "binsort rollout frames", timeout_s=120.0 + 10.0 * len(rollouts))


def _renderer(sim: BinSortSim, height_px: int = FRAME_HEIGHT_PX, width_px: int = FRAME_WIDTH_PX):
    """A renderer of ``sim``'s model with its first episode's blocks coloured red or blue."""
    import mujoco

    model = sim.model
    for i, colour in enumerate(sim.colours[0]):
        geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"block{i}")
        model.geom_rgba[geom] = (0.85, 0.15, 0.15, 1) if colour == RED else (0.15, 0.3, 0.85, 1)
    return mujoco.Renderer(model, height_px, width_px)


def _frame(renderer, sim: BinSortSim) -> np.ndarray:
    renderer.update_scene(sim.mjdata(0), camera="overview")
    return renderer.render().copy()


def _save_png(path: str | Path, write) -> None:
    """``write(buffer)`` a PNG, then put it at ``path`` atomically."""
    buffer = io.BytesIO()
    write(buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def _render_in_this_process(path: str, seed: int, n_blocks: int) -> None:
    from PIL import Image

    sim = BinSortSim(1, n_blocks)
    sim.reset([seed])
    renderer = _renderer(sim, 480, 640)
    image = Image.fromarray(_frame(renderer, sim))
    renderer.close()
    _save_png(path, lambda buffer: image.save(buffer, format="png"))


def _render_rollouts_in_this_process(spec_path: str, path: str) -> None:
    """Replay each record's actions and draw FRAMES_PER_ROLLOUT evenly spaced frames per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rollouts = json.loads(Path(spec_path).read_text())
    fig, axes = plt.subplots(len(rollouts), FRAMES_PER_ROLLOUT, squeeze=False,
                             figsize=(2.2 * FRAMES_PER_ROLLOUT, 1.9 * len(rollouts) + 0.4))
    for row, (label, record) in zip(axes, rollouts.items()):
        sim = BinSortSim(1, record["n_blocks"], record["rule"], record["task_conditioning"])
        sim.reset([record["seed"]])
        renderer = _renderer(sim)
        actions = record["actions"]
        at_steps = np.linspace(0, len(actions), FRAMES_PER_ROLLOUT).round().astype(int)
        frames = {0: _frame(renderer, sim)}
        for k, action in enumerate(actions, start=1):
            sim.step(np.array(action))
            if k in at_steps:
                frames[k] = _frame(renderer, sim)
        renderer.close()
        for ax, k in zip(row, at_steps):
            ax.imshow(frames[k])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"step {k}", fontsize=7)
        outcome = ", ".join(f"{n} {name}" for name, n in Counter(record["outcomes"]).items())
        row[0].set_ylabel(f"{label}\n{outcome}", fontsize=7)
    fig.suptitle("First test episode of each selected policy (training seed 0), replayed from its stored actions", fontsize=9)
    fig.tight_layout()
    _save_png(path, lambda buffer: fig.savefig(buffer, format="png", dpi=110))
    plt.close(fig)


def _render_in_child(code: str, what: str, timeout_s: float) -> bool:
    """Run rendering ``code`` in a fresh child process with headless EGL; False (logged) if no GL.

    The GL backend is fixed when mujoco is imported and a broken EGL can crash the
    process, so frames are never rendered in the calling process.
    """
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        log.warning("%s skipped: nothing rendered after %.0f s (MUJOCO_GL=%s)", what, timeout_s, env["MUJOCO_GL"])
        return False
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no message)"]
        log.warning("%s skipped: no usable OpenGL (MUJOCO_GL=%s): %s", what, env["MUJOCO_GL"], tail[0])
        return False
    return True


def render_frame(path: str | Path, seed: int, n_blocks: int = 4, timeout_s: float = 60.0) -> bool:
    """Render episode ``seed``'s first frame to a PNG with headless EGL; False (logged) if no GL."""
    code = ("from ambient_bench.envs.binsort.figures import _render_in_this_process as r; "
            f"r({str(path)!r}, {int(seed)}, {int(n_blocks)})")
    return _render_in_child(code, "binsort render", timeout_s)
