"""Built-in suites; importing this package registers them."""
from . import maze_gcs
from . import maze_rrt
from . import binsort_scripted
from . import arm_trajopt
from . import arm_rrt
from . import external
from . import maze_bench
from . import binsort_bench
from . import arm_bench
