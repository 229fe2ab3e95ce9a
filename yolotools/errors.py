"""User-facing errors and the problems found while reading data.

A :class:`YoloToolsError` is a user mistake (bad file, bad option): the CLI shows
its one-line message, never a traceback.  A :class:`Problem` is one finding in
lenient mode (a box skipped or clipped, an image missing); readers collect them
in a :class:`Problems` list, and ``strict=True`` turns the first error-level
problem into a :class:`YoloToolsError`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["YoloToolsError", "Problem", "Problems"]

log = logging.getLogger("yolotools")


class YoloToolsError(Exception):
    """A user error: the message names the file and what is wrong."""


@dataclass(frozen=True)
class Problem:
    """One finding.  ``severity`` is ``"error"`` (data not used) or ``"warning"``
    (data used after a fix, e.g. a box clipped); ``kind`` is a short stable key
    (``box_outside_image``); ``where`` is a line, object index or JSON id."""

    severity: str
    kind: str
    path: str
    message: str
    where: str = ""

    def __str__(self) -> str:
        loc = f"{self.path}:{self.where}" if self.where else self.path
        return f"{self.severity}: {loc}: {self.message}"

    def to_dict(self) -> dict:
        return {"severity": self.severity, "kind": self.kind, "path": self.path, "where": self.where, "message": self.message}


@dataclass
class Problems:
    """An ordered list of problems; ``strict`` raises on the first error."""

    strict: bool = False
    items: list[Problem] = field(default_factory=list)
    converted: dict[str, int] = field(default_factory=dict)  # shapes made boxes, by kind ("polygon_to_box": 3)

    def add(self, severity: str, kind: str, path, message: str, where="") -> None:
        p = Problem(severity, kind, str(path), message, str(where))
        if self.strict and severity == "error":
            raise YoloToolsError(str(p))
        self.items.append(p)
        log.debug("%s", p)

    def error(self, kind: str, path, message: str, where="") -> None:
        self.add("error", kind, path, message, where)

    def warning(self, kind: str, path, message: str, where="") -> None:
        self.add("warning", kind, path, message, where)

    def extend(self, other: "Problems | list[Problem]") -> None:
        for p in (other.items if isinstance(other, Problems) else other):
            if self.strict and p.severity == "error":
                raise YoloToolsError(str(p))
            self.items.append(p)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(p.kind for p in self.items).items()))

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)
