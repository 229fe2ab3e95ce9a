"""The ``yolotools`` command line: a thin shell over the library.

Each command parses its options, makes one library call and prints the result
(a table, or JSON with ``--json``).  Library modules are imported inside the
commands so that ``yolotools convert`` never pays for torch or albumentations.
One module per command group; :mod:`.common` holds the group and the shared
helpers.
"""

from .common import main
from .convert import convert
from .data import audit, augment, eval_cmd, kmeans
from .model import detect, model
from .train import demo, shapes, train

__all__ = ["main", "convert", "kmeans", "eval_cmd", "audit", "augment", "model", "detect", "train", "shapes", "demo"]
