"""The training options are declared once: the `train` command's options are
the TrainConfig fields (names, defaults, choices), and TrainConfig() is what
`yolotools train` with no flags does."""

from dataclasses import MISSING, fields

import click
import pytest

from yolotools.cli import train as train_cmd
from yolotools.errors import YoloToolsError
from yolotools.train.config import TrainConfig, option_name


def test_cli_options_equal_the_dataclass():
    params = {p.name: p for p in train_cmd.params}
    for f in fields(TrainConfig):
        assert f.name in params, f"TrainConfig.{f.name} has no --{f.name.replace('_', '-')} option"
        p = params[f.name]
        assert option_name(f.name) in p.opts, (f.name, p.opts)
        assert p.default == (f.default if f.default is not MISSING else None), f.name
        choices = f.metadata.get("choices")
        if choices:
            assert isinstance(p.type, click.Choice) and tuple(p.type.choices) == tuple(choices), f.name
        assert p.help == f.metadata["help"]
    run_level = {"config", "data", "model_name", "cfg_path", "weights", "num_layers", "anchors", "out", "resume", "strict", "as_json", "quiet"}
    assert set(params) - {f.name for f in fields(TrainConfig)} == run_level


def test_auto_workers_share_the_machine_among_gpu_processes(monkeypatch):
    import os

    from yolotools.train.config import auto_workers

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert auto_workers() == 63  # no fixed cap of 8: one core for the training loop
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")  # torchrun --nproc-per-node 8
    assert auto_workers() == 7
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert auto_workers() == 1  # at least one


def test_defaults_are_the_commands_defaults():
    c = TrainConfig()
    assert c.device == "auto" and c.workers == -1  # what `yolotools train` with no flags does
    r = c.resolved()
    import torch

    assert r.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert r.workers == (0 if r.device == "cpu" else r.workers) and r.workers >= 0


@pytest.mark.parametrize("kw,needle", [({"optimizer": "adam"}, "optimizer must be one of"), ({"epochs": 0}, "epochs must be at least 1"),
                                       ({"lr": float("nan")}, "finite"), ({"img_size": 100}, "multiple of 32"), ({"batch": "8"}, "number")])
def test_bad_values_are_one_line_errors(kw, needle):
    with pytest.raises(YoloToolsError, match=needle):
        TrainConfig(**kw)
