"""The one rule for numbers read from a file (every reader uses it).

- A coordinate or score is a finite float: :func:`finite` (JSON numbers, or
  numeric text as CSV and XML give it; a decimal comma is read), :func:`is_num`
  (a JSON number that is not a bool; an integer beyond a double is not one).
- An id is an integer that fits int64 (:func:`int64_ok`); an image side is at
  most :data:`MAX_SIDE` pixels; anything else is a problem for that record,
  never an ``OverflowError``.
- Columns: :func:`boxes4` and :func:`numbers` turn a list of JSON values into a
  float64 array and a mask of the entries that pass, in one ``numpy`` call when
  every entry has the plain type (the common case), entry by entry otherwise.
"""

from __future__ import annotations

import math
from itertools import chain, repeat

import numpy as np

__all__ = ["finite", "is_num", "int64_ok", "boxes4", "numbers", "column", "finite_values", "as_floats", "int_hw", "box_floats",
           "INT64_MIN", "INT64_MAX", "MAX_SIDE"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_SIDE = 2**31 - 1  # pixels a side: no image file format stores more (a PNG header's field is 31 bits)


def finite(v) -> float | None:
    """``v`` as a finite float (numbers or numeric text; a decimal comma is
    accepted, as CVAT's Open Images export writes ``"0,358"``), else ``None``."""
    t = type(v)
    if t is float:  # the common case (JSON numbers): NaN and inf fail v - v == 0
        return v if v - v == 0 else None
    if t is int:
        try:
            return float(v)
        except OverflowError:  # an integer beyond a double (JSON allows 1e400 written out)
            return None
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, str):
        try:  # the common case: float() takes the text as it is (surrounding spaces included)
            f = float(v)
            return f if f - f == 0 else None
        except ValueError:
            pass
        v = v.strip().replace(",", ".")
        if not v:
            return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def is_num(v) -> bool:
    """A JSON number (int or float, not bool) with a finite float value."""
    if v.__class__ is float:
        return v - v == 0
    if isinstance(v, int) and not isinstance(v, bool):
        try:
            return math.isfinite(v)
        except OverflowError:
            return False
    return isinstance(v, float) and math.isfinite(v)


def int64_ok(v) -> bool:
    """An integer (``isinstance(v, int)``, as JSON ids are) that fits int64."""
    return isinstance(v, int) and INT64_MIN <= v <= INT64_MAX


def numbers(values: list) -> tuple[np.ndarray, np.ndarray]:
    """``(float64 array, is_num mask)`` of a list of JSON values (NaN where not a number)."""
    n = len(values)
    if set(map(type, values)) <= {int, float}:
        try:
            a = np.array(values, dtype=np.float64).reshape(n)
            return a, np.isfinite(a)
        except OverflowError:  # an integer beyond a double: entry by entry
            pass
    ok = np.fromiter(map(is_num, values), bool, n)
    a = np.full(n, np.nan)
    for i in np.flatnonzero(ok).tolist():
        a[i] = float(values[i])
    return a, ok


def boxes4(values: list) -> tuple[np.ndarray, np.ndarray]:
    """``((n, 4) float64, mask)`` of a list of JSON values that should each be a
    list of 4 numbers (:func:`is_num`); NaN rows where one is not."""
    n = len(values)
    if set(map(type, values)) <= {list} and set(map(len, values)) <= {4} and set(map(type, chain.from_iterable(values))) <= {int, float}:
        try:
            a = np.array(values, dtype=np.float64).reshape(n, 4)
            return a, np.isfinite(a).all(1)
        except OverflowError:  # an integer beyond a double: entry by entry
            pass
    ok = np.array([isinstance(v, list) and len(v) == 4 and all(map(is_num, v)) for v in values], bool).reshape(n)
    a = np.full((n, 4), np.nan)
    for i in np.flatnonzero(ok).tolist():
        a[i] = [float(x) for x in values[i]]
    return a, ok


def column(rows: list, key: str) -> list:
    """``row.get(key)`` of each row that is a dict, None for the others (a JSON
    array of objects as one column)."""
    if set(map(type, rows)) <= {dict}:
        return list(map(dict.get, rows, repeat(key)))
    return [r.get(key) if r.__class__ is dict else None for r in rows]

def finite_values(values: list) -> list:
    """``[finite(v) for v in values]``: numbers and numeric text converted in
    one ``numpy`` call (Python's ``float`` of each) when every value is one,
    value by value otherwise (decimal commas, words, None)."""
    a = as_floats(values)
    if a is None:
        return [finite(v) for v in values]
    out = a.tolist()
    if not np.isfinite(a).all():
        out = [v if v - v == 0 else None for v in out]
    return out


def as_floats(values: list) -> np.ndarray | None:
    """``float(v)`` of every value as one array, None when a value is not a str,
    int or float or does not convert (the caller then goes value by value)."""
    if not set(map(type, values)) <= {str, float, int}:
        return None
    try:
        return np.array(values, dtype=np.float64).reshape(len(values))
    except (ValueError, OverflowError):
        return None


def int_hw(h, w) -> tuple[int, int] | None:
    """``(int(h), int(w))`` as :meth:`DatasetBuilder.add_image` takes a size a
    reader gives, None where that fails (then the size comes from elsewhere)."""
    try:
        return int(h), int(w)
    except (TypeError, ValueError, OverflowError):
        return None


def box_floats(values: list) -> tuple[np.ndarray, np.ndarray]:
    """``(round(finite(v), 9) or 0, whether finite(v) took it on its first try)``
    per value (the rows it does not take go through the per-box checks)."""
    a = as_floats(values)
    if a is not None:
        ok = np.isfinite(a)
        out = np.where(ok, a, 0.0)
        frac = np.flatnonzero(out != np.floor(out))  # an integral float is its own round(v, 9)
        if len(frac):
            out[frac] = [round(v, 9) for v in out[frac].tolist()]
        return out, ok
    out = np.zeros(len(values))
    ok = np.zeros(len(values), bool)
    for i, x in enumerate(values):
        if x.__class__ in (float, int, str):  # the values finite() takes without the decimal-comma retry
            try:
                f = float(x)
            except (ValueError, OverflowError):
                continue
            if f - f == 0:
                out[i] = round(f, 9)
                ok[i] = True
    return out, ok
