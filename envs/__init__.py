"""Built-in suites; importing this package registers them."""
from . import maze
from . import binsort
from . import arm
