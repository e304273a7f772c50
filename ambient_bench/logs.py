"""One log format for the command line and the worker processes it starts, so a worker's
lines (a resumed run, a recomputed evaluation) read like the parent's."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"


def configure(package_level: int) -> None:
    """Other libraries log from WARNING up, ambient_bench's loggers from ``package_level``."""
    logging.basicConfig(level=logging.WARNING, format=FORMAT, datefmt=DATE_FORMAT)
    logging.getLogger("ambient_bench").setLevel(package_level)
