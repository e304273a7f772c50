"""ambient_bench: a benchmark for learning robot policies from clean + out-of-distribution data.

Importing the package registers every gymnasium id with a string entry point (the
Gymnasium-Robotics convention): ``gymnasium.make("ambient_bench/Maze2D-v0")`` works after
``import ambient_bench`` and imports the suite's module (Drake, MuJoCo, ...) only then.
"""

import gymnasium

__version__ = "0.1.0"

GYMNASIUM_IDS = {
    "ambient_bench/Maze2D-v0": "ambient_bench.envs.maze:Maze2DEnv",
    "ambient_bench/BinSort-v0": "ambient_bench.envs.binsort:BinSortEnv",
    "ambient_bench/Arm7-v0": "ambient_bench.envs.arm:Arm7Env",
}

for _id, _entry_point in GYMNASIUM_IDS.items():
    gymnasium.register(id=_id, entry_point=_entry_point)
