"""The report's figure for bin sorting: a rendered frame of the scene (MuJoCo offscreen, needs GL)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ambient_bench.registry import FIGURES
from ambient_bench.task import SuiteFigures

from .scene import RED
from .sim import BinSortSim
from .task import BinSortTask

log = logging.getLogger(__name__)


@FIGURES.register("binsort")
class BinSortFigures(SuiteFigures):
    """The bin-sorting report figure: a rendered frame of the scene (MuJoCo, needs GL)."""

    def render_scene(self, task_params: dict[str, Any], path: str | Path, seed: int) -> bool:
        """A rendered first frame of episode ``seed`` (False if no GL)."""
        return render_frame(path, seed, BinSortTask(**task_params).n_blocks)


def _render_in_this_process(path: str, seed: int, n_blocks: int) -> None:
    import mujoco
    from PIL import Image

    sim = BinSortSim(1, n_blocks)
    sim.reset([seed])
    model = sim.model
    for i, colour in enumerate(sim.colours[0]):
        geom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"block{i}")
        model.geom_rgba[geom] = (0.85, 0.15, 0.15, 1) if colour == RED else (0.15, 0.3, 0.85, 1)
    renderer = mujoco.Renderer(model, 480, 640)
    renderer.update_scene(sim.mjdata(0), camera="overview")
    Image.fromarray(renderer.render()).save(path)
    renderer.close()


def render_frame(path: str | Path, seed: int, n_blocks: int = 4, timeout_s: float = 60.0) -> bool:
    """Render episode ``seed``'s first frame to a PNG with headless EGL; False (logged) if no GL.

    The GL backend is fixed when mujoco is imported and a broken EGL can crash the
    process, so the frame is rendered in a fresh child process with MUJOCO_GL=egl.
    """
    env = dict(os.environ, MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    code = f"from ambient_bench.envs.binsort.figures import _render_in_this_process as r; r({str(path)!r}, {int(seed)}, {int(n_blocks)})"
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        log.warning("binsort render skipped: no frame after %.0f s (MUJOCO_GL=%s)", timeout_s, env["MUJOCO_GL"])
        return False
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no message)"]
        log.warning("binsort render skipped: no usable OpenGL (MUJOCO_GL=%s): %s", env["MUJOCO_GL"], tail[0])
        return False
    return True
