"""YOLO networks: Darknet cfg/weights I/O, the code-built YOLOv3, decoding, NMS.

This package imports torch; nothing outside ``model/``, ``train/`` and
``detect`` imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import YoloToolsError

MERGE_IOU = 0.6  # the weighted box merge after NMS (decode.merge_boxes), on in every prediction path; 1 turns it off

__all__ = ["MERGE_IOU", "load_network", "load_weights_any", "save_checkpoint", "read_checkpoint", "load_checkpoint", "model_summary", "ModelSummary"]


def torch_device(name: str):
    """``torch.device`` for a ``--device`` value (``auto``: cuda when available),
    or a one-line error when this machine or this PyTorch build cannot use it."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        d = torch.device(name)
    except (RuntimeError, ValueError):
        raise YoloToolsError(f"--device {name!r}: not a device (auto, cpu, cuda, cuda:N, mps)") from None
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise YoloToolsError(f"--device {name}: no usable CUDA GPU here (torch {torch.__version__}); use --device cpu")
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise YoloToolsError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s) (cuda:0..)")
    elif d.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise YoloToolsError(f"--device {name}: MPS is not available here; use --device cpu")
    return d


def load_network(cfg: str | Path, *, classes: int | None = None, anchors: list[float] | None = None, size: int | None = None,
                 head_options: dict[str, str] | None = None):
    """A :class:`DarknetNet` from a ``.cfg`` path or a registry name (``yolov3``,
    ``yolov3-spp``, ``yolov3-tiny``, ``yolov2``), heads rewritten for
    ``classes``/``anchors`` when given; ``head_options`` (e.g. ``{"scale_x_y":
    "2.0"}``) are set on every ``[yolo]`` head (see :func:`network_sections`)."""
    from .darknet import DarknetNet

    return DarknetNet(sections=network_sections(cfg, classes=classes, anchors=anchors, size=size, head_options=head_options))


def anchor_count(sections) -> int:
    """How many anchors the network's heads use (every ``[yolo]`` head's mask,
    every ``[region]`` head's ``num``), read from its sections (no network built)."""
    n = 0
    for s in sections:
        if s.type == "yolo":
            n += len(s.ints("mask")) if "mask" in s.options else s.int("num")
        elif s.type == "region":
            n += s.int("num")
    return n


def network_sections(cfg: str | Path, *, classes: int | None = None, anchors: list[float] | None = None, size: int | None = None,
                     head_options: dict[str, str] | None = None):
    """The cfg sections :func:`load_network` builds (a ``.cfg`` path or a
    registry name, heads rewritten for ``classes``/``anchors``)."""
    from .cfg import override_heads, parse_cfg
    from .zoo import MODELS, cfg_sections

    p = Path(str(cfg))
    if p.suffix == ".cfg" or p.exists():
        sections = parse_cfg(p)
        if classes is not None or anchors is not None:
            sections = override_heads(sections, classes=classes, anchors=anchors)
    elif str(cfg) in MODELS:
        sections = cfg_sections(str(cfg), classes=classes or 80, size=size or 416)
        if anchors is not None:
            sections = override_heads(sections, anchors=anchors)
    else:
        raise YoloToolsError(f"{cfg}: not a .cfg file or a known model ({sorted(MODELS)})")
    if size:
        sections[0].options["width"] = sections[0].options["height"] = str(size)
    for sec in sections:
        if sec.type == "yolo" and head_options:
            sec.options.update({k: str(v) for k, v in head_options.items()})
    return sections


def save_checkpoint(model, path: Path | str, *, header=(0, 2, 0, 0), extra: dict | None = None) -> None:
    """A PyTorch checkpoint that ``torch.load(weights_only=True)`` can read: the
    cfg text, the Darknet header and the state dict (written atomically)."""
    import io

    import torch

    from ..io.files import atomic_write_bytes
    from .cfg import cfg_text

    ckpt = {"format": "yolotools-darknet", "version": 1, "cfg": cfg_text(model.sections), "header": list(header),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    if extra:
        ckpt.update(extra)
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def read_checkpoint(path: Path | str) -> dict:
    """The dict of a yolotools ``.pt`` (``torch.load(weights_only=True)``: safe
    for untrusted files); a missing, truncated or foreign file is a clear error."""
    import pickle

    import torch

    p = Path(path)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise YoloToolsError(f"{p}: checkpoint not found") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        raise YoloToolsError(f"{p}: not a readable checkpoint ({str(e).splitlines()[0][:200]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != "yolotools-darknet":
        raise YoloToolsError(f"{p}: not a yolotools checkpoint (no 'format': 'yolotools-darknet')")
    return ckpt


def load_checkpoint(path: Path | str, *, ema: bool = True):
    """``(model, checkpoint dict)`` from a yolotools ``.pt`` (see
    :func:`read_checkpoint`).  A training checkpoint holds the raw and the EMA
    weights; the EMA ones (those the trainer evaluated and picked ``best.pt``
    by) are loaded unless ``ema=False``."""
    from .cfg import parse_cfg_text
    from .darknet import DarknetNet

    p = Path(path)
    ckpt = read_checkpoint(p)
    model = DarknetNet(sections=parse_cfg_text(ckpt["cfg"], str(p)))
    try:
        model.load_state_dict(ckpt["ema"] if ema and isinstance(ckpt.get("ema"), dict) else ckpt["model"])
    except RuntimeError as e:
        raise YoloToolsError(f"{p}: weights do not fit its cfg: {str(e).splitlines()[0][:300]}") from None
    return model, ckpt


def load_weights_any(model, path: Path | str, *, num_layers: int | None = None, resize_heads: bool = False) -> dict:
    """Load ``.weights`` (Darknet) or ``.pt`` (yolotools checkpoint) into ``model``.
    ``resize_heads``: a file made for another number of classes loads every layer
    but the head convolutions (for fine-tuning on your classes)."""
    p = Path(path)
    if p.suffix == ".pt":
        src, ckpt = load_checkpoint(p)
        try:
            if resize_heads:
                from .weights import load_matching

                return {"header": ckpt.get("header"), "initialised": load_matching(model, src.state_dict())}
            model.load_state_dict(src.state_dict())
        except RuntimeError as e:
            raise YoloToolsError(f"{p}: weights do not fit the network: {str(e).splitlines()[0][:300]}") from None
        return {"header": ckpt.get("header")}
    from .weights import load_darknet_weights, load_darknet_weights_resized

    if resize_heads and num_layers is None:
        return load_darknet_weights_resized(model, p)
    return load_darknet_weights(model, p, num_layers=num_layers)


@dataclass
class ModelSummary:
    layers: list[dict]
    parameters: int
    darknet_values: int
    weights_bytes: int
    input_hw: tuple[int, int]
    heads: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        rows = [f"{'#':>4} {'layer':<14} {'out shape':<18} {'params':>12}  details"]
        for l in self.layers:
            rows.append(f"{l['index']:>4} {l['type']:<14} {str(tuple(l['out_shape'])):<18} {l['params']:>12,}  {l['details']}")
        rows.append(f"input {self.input_hw[1]}x{self.input_hw[0]}; {len(self.heads)} heads: " +
                    ", ".join(f"{h['kind']} {h['grid']} ({h['anchors']} anchors, {h['classes']} classes)" for h in self.heads))
        rows.append(f"parameters (trainable)      {self.parameters:,}")
        rows.append(f"darknet values (.weights)   {self.darknet_values:,}")
        rows.append(f".weights file size          {self.weights_bytes:,} bytes")
        return "\n".join(rows)


def model_summary(model, *, input_hw: tuple[int, int] | None = None) -> ModelSummary:
    import torch

    from .layers import ConvBNAct
    from .weights import darknet_value_count

    hw = input_hw or model.input_hw
    shapes: dict[int, tuple] = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, k=k: shapes.__setitem__(k, tuple(o.shape))) for k, m in enumerate(model.layers)
             if isinstance(m, torch.nn.Module) and not type(m).__name__.startswith("_")]
    model.eval()
    with torch.no_grad():
        outs = model(torch.zeros(1, model.in_channels, *hw))
    for h in hooks:
        h.remove()
    layers = []
    last = None
    for k, (m, s) in enumerate(zip(model.layers, model.sections[1:])):
        shp = shapes.get(k, last)
        if s.type == "route":
            shp = None
        details = ", ".join(f"{key}={s.options[key]}" for key in ("filters", "size", "stride", "layers", "from", "activation", "mask") if key in s.options)
        layers.append({"index": k, "type": s.type, "out_shape": list(shp[1:]) if shp else [], "params": sum(p.numel() for p in m.parameters()),
                       "details": details})
        last = shp
    dv = darknet_value_count(model.darknet_convs())
    heads = [{"kind": h.kind, "anchors": len(h.anchors), "classes": h.classes, "grid": f"{o.shape[-1]}x{o.shape[-2]}"} for h, o in zip(model.heads, outs)]
    return ModelSummary(layers, sum(p.numel() for p in model.parameters() if p.requires_grad), dv, dv * 4 + 20, tuple(hw), heads)
