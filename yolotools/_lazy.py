"""Package names that load their module on first use (PEP 562), so that
importing one module of a package does not import its siblings (``convert voc``
imports the YOLO writer, not the numpy-based reader)."""

from __future__ import annotations

import importlib
from typing import Callable


def lazy_exports(package: str, where: dict[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``, whose name ``n`` lives in its
    submodule ``where[n]``; a name, once loaded, is kept in ``namespace``."""

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
