"""Maze worlds as data: obstacle boxes in a rectangle, a convex cover of the free space
(for Drake GCS), a start/goal region and a step cap.

Two kinds, stored as JSON under ``envs/maze_layouts/``:

- ``boxes``: an open square with axis-aligned box obstacles — the authors' world
  (``boxes.json``: [0, 5]^2 with their 10 boxes). The default.
- ``grid``: a corridor maze of square cells with open passages between neighbours
  (``corridors.json``, 6 x 6): longer, narrower routes, a harder named variant.

Both expose the same interface: ``bounds``, ``walls`` (closed boxes
``[xmin, ymin, xmax, ymax]``), ``free_boxes(margin_m)``, ``sample_free_point(rng,
clearance_m)`` and ``max_steps(dt_s)``. A layout may fix the start (``start_xy``):
``boxes_fixed_start`` is the authors' world with the fixed start (2.5, 2.5) of their
earlier public data, where every episode starts at one point and only the goal varies.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LAYOUT_DIR = Path(__file__).parent / "maze_layouts"
DEFAULT_LAYOUT = "boxes"
# Step cap of grid mazes = STEP_CAP_FACTOR x the duration of their longest expected plan at 1 m/s.
STEP_CAP_FACTOR = 3.0
# Boxes thinner than this (m) are dropped from a cover: they carry no path.
MIN_BOX_WIDTH_M = 1e-6


@dataclass(frozen=True)
class Layout:
    """Obstacle boxes ``walls`` (M, 4) inside ``bounds`` ``[xmin, ymin, xmax, ymax]``;
    ``start_xy`` fixes every episode's start (None: random starts)."""

    version: str
    bounds: np.ndarray
    walls: np.ndarray
    start_xy: np.ndarray | None = None

    @property
    def plot_margin_m(self) -> float:
        return 0.1

    def free_boxes(self, margin_m: float) -> list[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError

    def sample_free_point(self, rng: np.random.Generator, clearance_m: float) -> np.ndarray:
        raise NotImplementedError

    def max_steps(self, dt_s: float) -> int:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        fixed = {} if self.start_xy is None else {"start_xy": self.start_xy.tolist()}
        return {"kind": self.kind, "version": self.version, "bounds": self.bounds.tolist(),
                "walls": self.walls.tolist(), **fixed}

    @staticmethod
    def common_fields(d: dict[str, Any]) -> dict[str, Any]:
        """The fields every kind stores, parsed from its JSON."""
        start = d.get("start_xy")
        return {"version": str(d["version"]), "bounds": np.asarray(d["bounds"], dtype=float),
                "walls": np.asarray(d["walls"], dtype=float).reshape(-1, 4),
                "start_xy": None if start is None else np.asarray(start, dtype=float)}

    @staticmethod
    def from_json(d: dict[str, Any]) -> "Layout":
        kinds = {"grid": GridLayout, "boxes": BoxLayout}
        kind = d.get("kind", "grid")
        if kind not in kinds:
            raise ValueError(f"maze layout kind {kind!r} unknown; kinds: {sorted(kinds)}")
        return kinds[kind].from_fields(d)


@dataclass(frozen=True)
class BoxLayout(Layout):
    """An open rectangle with box obstacles; start and goal anywhere ``clearance_m`` clear of
    every obstacle and of the boundary. ``step_cap`` is stored with the world."""

    step_cap: int = 300
    kind = "boxes"

    def free_boxes(self, margin_m: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """A convex cover of the points ``margin_m`` away from every obstacle and the boundary.

        Vertical slabs between consecutive obstacle x-edges; in each slab the free
        y-intervals are boxes. Boxes of neighbouring slabs only touch, so for every pair
        whose y-intervals overlap a bridge box joins their centres: it lies inside the two
        boxes and overlaps each by a positive area, which gives GCS a robust edge.
        """
        lo, hi = self.bounds[:2] + margin_m, self.bounds[2:] - margin_m
        grown = self.walls + np.array([-1.0, -1.0, 1.0, 1.0]) * margin_m
        xs = np.unique(np.clip(np.concatenate([grown[:, [0, 2]].ravel(), [lo[0], hi[0]]]), lo[0], hi[0]))
        slabs = []  # per slab: list of (lo, hi) boxes
        for x0, x1 in zip(xs[:-1], xs[1:]):
            if x1 - x0 < MIN_BOX_WIDTH_M:
                continue
            blocking = grown[(grown[:, 0] < x1) & (grown[:, 2] > x0)]
            intervals = _subtract_intervals((lo[1], hi[1]), blocking[:, [1, 3]])
            slabs.append([(np.array([x0, y0]), np.array([x1, y1])) for y0, y1 in intervals])
        boxes = [box for slab in slabs for box in slab]
        for left, right in zip(slabs[:-1], slabs[1:]):
            for lo_a, hi_a in left:
                for lo_b, hi_b in right:
                    y0, y1 = max(lo_a[1], lo_b[1]), min(hi_a[1], hi_b[1])
                    if abs(hi_a[0] - lo_b[0]) < 1e-12 and y1 - y0 > MIN_BOX_WIDTH_M:
                        x0, x1 = (lo_a[0] + hi_a[0]) / 2, (lo_b[0] + hi_b[0]) / 2
                        boxes.append((np.array([x0, y0]), np.array([x1, y1])))
        return boxes

    def sample_free_point(self, rng: np.random.Generator, clearance_m: float) -> np.ndarray:
        """Uniform over the points ``clearance_m`` clear of obstacles and boundary (rejection)."""
        lo, hi = self.bounds[:2] + clearance_m, self.bounds[2:] - clearance_m
        grown = self.walls + np.array([-1.0, -1.0, 1.0, 1.0]) * clearance_m
        while True:
            p = lo + rng.random(2) * (hi - lo)
            if not ((p >= grown[:, :2]) & (p <= grown[:, 2:])).all(axis=1).any():
                return p

    def max_steps(self, dt_s: float) -> int:
        return self.step_cap

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "step_cap": self.step_cap}

    @classmethod
    def from_fields(cls, d: dict[str, Any]) -> "BoxLayout":
        return cls(**cls.common_fields(d), step_cap=int(d["step_cap"]))


def _subtract_intervals(span: tuple[float, float], cuts: np.ndarray) -> list[tuple[float, float]]:
    """The parts of the closed interval ``span`` outside every closed interval in ``cuts`` (K, 2)."""
    free, start = [], span[0]
    for c0, c1 in sorted(map(tuple, cuts)):
        if c0 - start > MIN_BOX_WIDTH_M:
            free.append((start, min(c0, span[1])))
        start = max(start, c1)
        if start >= span[1]:
            break
    if span[1] - start > MIN_BOX_WIDTH_M:
        free.append((start, span[1]))
    return free


@dataclass(frozen=True)
class GridLayout(Layout):
    """A grid maze: ``n_rows x n_cols`` square cells, open ``passages`` between neighbours.

    ``walls`` are centred on the grid lines (outer boundary included). Cell (r, c) spans
    ``[c, c+1] x [r, r+1]`` times ``cell_size_m``.
    """

    n_rows: int = 0
    n_cols: int = 0
    cell_size_m: float = 1.0
    wall_thickness_m: float = 0.1
    passages: tuple[tuple[int, int, int, int], ...] = ()
    kind = "grid"

    @property
    def plot_margin_m(self) -> float:
        return self.wall_thickness_m

    def cell_interior(self, row: int, col: int, margin_m: float) -> tuple[np.ndarray, np.ndarray]:
        """The free square of a cell, shrunk by ``margin_m`` from the wall faces: (lo, hi)."""
        inset = self.wall_thickness_m / 2 + margin_m
        lo = np.array([col, row], dtype=float) * self.cell_size_m + inset
        return lo, lo + self.cell_size_m - 2 * inset

    def free_boxes(self, margin_m: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """A convex cover of the free space, every box ``margin_m`` away from the walls.

        One box per cell interior plus one per passage, spanning centre to centre of the
        two cells through the doorway; each doorway box overlaps both cells by a
        positive area, which is what gives GCS an edge between neighbours.
        """
        boxes = [self.cell_interior(r, c, margin_m) for r in range(self.n_rows) for c in range(self.n_cols)]
        half = self.cell_size_m / 2
        for r0, c0, r1, c1 in self.passages:
            lo_a, hi_a = self.cell_interior(r0, c0, margin_m)
            lo_b, hi_b = self.cell_interior(r1, c1, margin_m)
            axis = 0 if r0 == r1 else 1  # the axis the doorway is crossed along
            lo, hi = np.minimum(lo_a, lo_b), np.maximum(hi_a, hi_b)
            lo[axis] = (min(c0, c1) if axis == 0 else min(r0, r1)) * self.cell_size_m + half
            hi[axis] = lo[axis] + self.cell_size_m
            boxes.append((lo, hi))
        return boxes

    def sample_free_point(self, rng: np.random.Generator, clearance_m: float) -> np.ndarray:
        """A uniform cell, then uniform inside its interior shrunk by ``clearance_m``."""
        cell = int(rng.integers(self.n_rows * self.n_cols))
        lo, hi = self.cell_interior(cell // self.n_cols, cell % self.n_cols, clearance_m)
        return lo + rng.random(2) * (hi - lo)

    def max_steps(self, dt_s: float) -> int:
        """``STEP_CAP_FACTOR`` x the longest expected plan at 1 m/s.

        The longest expected plan is bounded by the largest shortest-path distance between
        two cells (breadth-first search over passages) plus one cell for the offsets of
        start and goal inside their cells. The factor 3 leaves room for detours and slower
        policies while still ending episodes that wander.
        """
        n = self.n_rows * self.n_cols
        neighbours: list[list[int]] = [[] for _ in range(n)]
        for r0, c0, r1, c1 in self.passages:
            a, b = r0 * self.n_cols + c0, r1 * self.n_cols + c1
            neighbours[a].append(b)
            neighbours[b].append(a)
        longest_hops = 0
        for src in range(n):
            dist = {src: 0}
            queue = deque([src])
            while queue:
                u = queue.popleft()
                for v in neighbours[u]:
                    if v not in dist:
                        dist[v] = dist[u] + 1
                        queue.append(v)
            longest_hops = max(longest_hops, max(dist.values()))
        longest_plan_m = (longest_hops + 1) * self.cell_size_m
        return int(math.ceil(STEP_CAP_FACTOR * longest_plan_m / dt_s))

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "n_rows": self.n_rows,
            "n_cols": self.n_cols,
            "cell_size_m": self.cell_size_m,
            "wall_thickness_m": self.wall_thickness_m,
            "passages": [list(p) for p in self.passages],
        }

    @classmethod
    def from_fields(cls, d: dict[str, Any]) -> "GridLayout":
        return cls(
            **cls.common_fields(d),
            n_rows=int(d["n_rows"]),
            n_cols=int(d["n_cols"]),
            cell_size_m=float(d["cell_size_m"]),
            wall_thickness_m=float(d["wall_thickness_m"]),
            passages=tuple(tuple(int(v) for v in p) for p in d["passages"]),
        )


def generate_grid_maze(
    n_rows: int = 6,
    n_cols: int = 6,
    seed: int = 0,
    extra_openings: int = 4,
    cell_size_m: float = 1.0,
    wall_thickness_m: float = 0.1,
) -> GridLayout:
    """A maze with loops: a random spanning tree of the cell grid (randomised Kruskal),
    then ``extra_openings`` more walls removed at random, so most start/goal pairs are
    joined by several homotopy classes of paths."""
    rng = np.random.default_rng(seed)
    edges = [(r, c, r, c + 1) for r in range(n_rows) for c in range(n_cols - 1)]
    edges += [(r, c, r + 1, c) for r in range(n_rows - 1) for c in range(n_cols)]
    order = rng.permutation(len(edges))
    parent = list(range(n_rows * n_cols))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree, rest = [], []
    for i in order:
        r0, c0, r1, c1 = edges[i]
        a, b = root(r0 * n_cols + c0), root(r1 * n_cols + c1)
        if a != b:
            parent[a] = b
            tree.append(edges[i])
        else:
            rest.append(edges[i])
    if extra_openings > len(rest):
        raise ValueError(f"extra_openings={extra_openings} > {len(rest)} walls left to open")
    chosen = rng.choice(len(rest), size=extra_openings, replace=False)
    passages = tuple(sorted(tree + [rest[i] for i in chosen]))

    walls = _wall_boxes(n_rows, n_cols, set(passages), cell_size_m, wall_thickness_m)
    return GridLayout(
        version=f"grid{n_rows}x{n_cols}-seed{seed}-open{extra_openings}-v1",
        bounds=np.array([0.0, 0.0, n_cols * cell_size_m, n_rows * cell_size_m]),
        walls=walls,
        n_rows=n_rows,
        n_cols=n_cols,
        cell_size_m=cell_size_m,
        wall_thickness_m=wall_thickness_m,
        passages=passages,
    )


def _wall_boxes(n_rows: int, n_cols: int, passages: set, size: float, thickness: float) -> np.ndarray:
    """Closed grid-line edges as boxes, contiguous collinear edges merged into one box."""
    h = thickness / 2
    boxes = []
    # Horizontal line y = r: the edge above column c is closed unless (r-1, c) -> (r, c) is open.
    for r in range(n_rows + 1):
        closed = [not (0 < r < n_rows and (r - 1, c, r, c) in passages) for c in range(n_cols)]
        for c0, c1 in _runs(closed):
            boxes.append([c0 * size - h, r * size - h, c1 * size + h, r * size + h])
    for c in range(n_cols + 1):
        closed = [not (0 < c < n_cols and (r, c - 1, r, c) in passages) for r in range(n_rows)]
        for r0, r1 in _runs(closed):
            boxes.append([c * size - h, r0 * size - h, c * size + h, r1 * size + h])
    return np.round(np.array(boxes, dtype=float), 9)


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """Maximal runs of True as (start, end) with end exclusive."""
    runs, start = [], None
    for i, f in enumerate(flags + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            runs.append((start, i))
            start = None
    return runs


# The authors' world (facts from their public maze code): [0, 5]^2 and ten boxes
# [xmin, ymin, xmax, ymax]; their evaluation capped episodes at about 300 waypoints.
AUTHORS_BOXES = [
    [1.0, 3.0, 2.0, 4.5], [2.5, 1.0, 3.0, 1.5], [3.0, 2.5, 4.5, 3.5], [0.5, 1.0, 1.5, 1.5],
    [1.2, 0.5, 2.7, 1.0], [3.0, 4.0, 4.0, 4.5], [3.7, 0.5, 4.2, 4.5], [4.7, 1.0, 5.0, 1.5],
    [0.7, 2.5, 1.5, 3.5], [2.0, 2.7, 2.3, 3.5],
]
# The fixed start of the authors' earlier public maze data (their tree was rooted there).
AUTHORS_FIXED_START = [2.5, 2.5]
# The stored corridor maze: open enough to learn on a CPU budget, with loops around most walls.
CORRIDORS_PARAMS = {"n_rows": 6, "n_cols": 6, "seed": 1, "extra_openings": 4}


def built_in_layouts() -> dict[str, tuple[Layout, str]]:
    """The stored layouts by name, each with the expression that builds it."""
    boxes = BoxLayout(version="authors-boxes-5x5-v1", bounds=np.array([0.0, 0.0, 5.0, 5.0]),
                      walls=np.array(AUTHORS_BOXES), step_cap=300)
    fixed_start = dataclasses.replace(boxes, version="authors-boxes-5x5-fixed-start-v1",
                                      start_xy=np.array(AUTHORS_FIXED_START))
    return {
        "boxes": (boxes, "ambient_bench.envs.maze_layout.AUTHORS_BOXES in [0, 5]^2, step cap 300"),
        "boxes_fixed_start": (fixed_start, "the boxes layout with start AUTHORS_FIXED_START"),
        "corridors": (generate_grid_maze(**CORRIDORS_PARAMS),
                      f"ambient_bench.envs.maze_layout.generate_grid_maze(**{CORRIDORS_PARAMS})"),
    }


def write_layout(name: str, layout: Layout, generated_by: str) -> Path:
    """Store ``layout`` as ``maze_layouts/<name>.json``, one wall / passage per line for readable diffs."""
    fields = {**layout.to_json(), "generated_by": generated_by}
    lines = []
    for key, value in fields.items():
        if key in ("walls", "passages"):
            items = ",\n".join(f"  {json.dumps(v)}" for v in value)
            lines.append(f' "{key}": [\n{items}\n ]')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    path = LAYOUT_DIR / f"{name}.json"
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    return path


def load_layout(name_or_path: str | Path = DEFAULT_LAYOUT) -> Layout:
    """A layout by name (``envs/maze_layouts/<name>.json``) or by path to a JSON file."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = LAYOUT_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"maze layout {str(name_or_path)!r} not found; built-in layouts: {layout_names()}, or pass a .json path"
        )
    return Layout.from_json(json.loads(path.read_text()))


def layout_names() -> list[str]:
    return sorted(p.stem for p in LAYOUT_DIR.glob("*.json"))
