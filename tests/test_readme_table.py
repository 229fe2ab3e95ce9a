"""The README's speed table is the rows the bench scripts recorded (bench/rows/), in
order, made by bench/readme_table.py: never edited by hand out of step with them."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import readme_table  # noqa: E402


def test_readme_speed_table_is_made_from_the_recorded_rows():
    p = subprocess.run([sys.executable, str(REPO / "bench" / "readme_table.py"), "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    rows = [n for n in readme_table.ORDER if (readme_table.ROWS / f"{n}.md").is_file()]
    assert rows == readme_table.ORDER  # every bench has its row
    readme = (REPO / "README.md").read_text()
    for n in rows:
        assert (readme_table.ROWS / f"{n}.md").read_text().strip() in readme


def test_render_replaces_only_the_table_and_record_refuses_what_is_not_a_row(tmp_path, monkeypatch):
    monkeypatch.setattr(readme_table, "ROWS", tmp_path)
    monkeypatch.setattr(readme_table, "ORDER", ["a", "b"])
    readme_table.record("b", "| bench b | 2 s |  peer 3 s |")
    readme_table.record("a", "| bench a | 1 s | peer 1 s |")
    text = "intro\n<!-- speed-table -->\nold table\n<!-- /speed-table -->\nrest\n"
    out = readme_table.render(text)
    assert out == ("intro\n<!-- speed-table -->\n| benchmark | ours | peer |\n|---|---|---|\n| bench a | 1 s | peer 1 s |\n"
                   "| bench b | 2 s | peer 3 s |\n<!-- /speed-table -->\nrest\n")
    assert readme_table.render(out) == out
    with pytest.raises(ValueError):
        readme_table.record("a", "not a row")
    with pytest.raises(ValueError):
        readme_table.record("zzz", "| x | y | z |")
