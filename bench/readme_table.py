"""The README's speed table, made from the rows the bench scripts record.

Each bench script run with ``--record`` writes its row to ``bench/rows/<name>.md``
(the figures it just measured, with the date); this script puts the rows, in
the order below, between the README's ``<!-- speed-table -->`` markers.
Rows of benches that were not re-run keep the text their last recorded run left.

    python bench/readme_table.py           # rewrite the table in README.md
    python bench/readme_table.py --check   # exit 1 when README.md and bench/rows differ (a test runs this)
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROWS = REPO / "bench" / "rows"
BEGIN, END = "<!-- speed-table -->", "<!-- /speed-table -->"
ORDER = ["convert_voc", "formats", "kmeans", "kmeans-command", "eval_coco", "model_forward", "augment", "loader", "audit",
         "memory", "train"]
HEADER = "| benchmark | ours | peer |\n|---|---|---|\n"


def record(name: str, row: str) -> Path:
    """Write one bench's README row (a markdown table row) to ``bench/rows/<name>.md``."""
    if name not in ORDER:
        raise ValueError(f"unknown row {name!r}; add it to ORDER in bench/readme_table.py")
    row = " ".join(row.split())
    if not (row.startswith("| ") and row.endswith(" |")):
        raise ValueError(f"not a table row: {row!r}")
    ROWS.mkdir(exist_ok=True)
    path = ROWS / f"{name}.md"
    path.write_text(row + "\n")
    return path


def byte_compile() -> None:
    """Byte-compile the package as pip does when it installs it, so that a timed
    run starts as a user's does even where PYTHONDONTWRITEBYTECODE is set (this
    workplace sets it: without the cache every run compiles the ~40 modules it
    imports, 25-30 ms)."""
    import compileall

    compileall.compile_dir(str(REPO / "yolotools"), quiet=1)


def today() -> str:
    return datetime.date.today().isoformat()


def table() -> str:
    rows = [(ROWS / f"{n}.md").read_text().strip() for n in ORDER if (ROWS / f"{n}.md").is_file()]
    return HEADER + "".join(r + "\n" for r in rows)


def render(readme: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} markers")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table()}{END}{tail}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    path = REPO / "README.md"
    old = path.read_text()
    new = render(old)
    if args.check:
        if new != old:
            sys.exit("README.md's speed table differs from bench/rows: run python bench/readme_table.py")
        return
    if new != old:
        path.write_text(new)
    print(f"README.md speed table: {table().count(chr(10)) - 2} rows")


if __name__ == "__main__":
    main()
