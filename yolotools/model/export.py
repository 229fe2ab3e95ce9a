"""Export a network to ONNX (what users deploy with).

Two forms:

- raw (default): the head outputs, one ``(B, A * (5 + C), H, W)`` tensor per
  head named ``head0``, ``head1``, ... in cfg order (what Darknet and OpenCV's
  ``readNetFromDarknet`` compute before their own decoding);
- ``decode=True``: ``boxes (B, N, 4)`` xyxy in input pixels of the letterboxed
  ``img_size`` square and ``scores (B, N, C)`` = objectness x class probability,
  N = sum of A x H x W over heads, so the model runs without our code (apply
  NMS, then undo the letterbox).

The batch dimension is fixed (1) unless ``dynamic_batch``.  The exported file is
checked by reading it back with ``onnx.checker``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import YoloToolsError

__all__ = ["ExportReport", "export_onnx"]

log = logging.getLogger(__name__)


@dataclass
class ExportReport:
    out: str
    format: str
    img_size: int
    opset: int
    dynamic_batch: bool
    decode: bool
    inputs: dict
    outputs: dict

    def to_dict(self) -> dict:
        return asdict(self)

    def to_table(self) -> str:
        lines = [f"wrote            {self.out}", f"format           {self.format} (opset {self.opset})",
                 f"input            images {self.inputs['images']} float32 RGB 0..1, letterboxed"]
        lines += [f"output           {k} {v}" for k, v in self.outputs.items()]
        return "\n".join(lines)


class _Decoded:
    """Wraps a network so that forward returns (boxes, scores) (see module doc)."""

    @staticmethod
    def make(model, img_size: int):
        import torch

        from .decode import decode

        class Decoded(torch.nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                p = decode(self.net(x), self.net.heads, (img_size, img_size))
                return p[..., :4], p[..., 4:5] * p[..., 5:]

        return Decoded(model)


def export_onnx(model, out: Path | str, *, img_size: int | None = None, opset: int = 17, dynamic_batch: bool = False,
                decode: bool = False, progress: bool = False) -> ExportReport:
    """Write ``model`` (a :class:`~yolotools.model.darknet.DarknetNet`) to ``out`` as ONNX."""
    import io

    import torch
    from tqdm.auto import tqdm

    bar = tqdm(total=3, desc="export", unit="step", disable=not progress, leave=False, bar_format="{desc}: {n}/{total} {postfix} [{elapsed}]")
    bar.set_postfix_str("tracing")

    from ..io.files import atomic_write_bytes

    try:
        import onnx
    except ImportError:  # pragma: no cover - a dependency of the export extra
        raise YoloToolsError("ONNX export needs the onnx package: pip install onnx") from None
    size = int(img_size or model.input_hw[0])
    if size % 32:
        raise YoloToolsError(f"--img-size {size}: must be a multiple of 32")
    was_training = model.training
    model = model.eval().cpu()
    net = (_Decoded.make(model, size) if decode else model).eval()  # the exporter restores the wrapper's mode, which reaches the net
    x = torch.zeros(1, model.in_channels, size, size)
    with torch.no_grad():
        outs = net(x)
    names = ["boxes", "scores"] if decode else [f"head{i}" for i in range(len(outs))]
    axes = {"images": {0: "batch"}, **{n: {0: "batch"} for n in names}} if dynamic_batch else None
    buf = io.BytesIO()
    try:
        torch.onnx.export(net, (x,), buf, input_names=["images"], output_names=names, opset_version=opset, dynamic_axes=axes,
                          dynamo=False, do_constant_folding=True)
    except Exception as e:  # torch raises many kinds for unsupported ops/opsets
        raise YoloToolsError(f"ONNX export failed: {str(e).splitlines()[0][:300]}") from None
    finally:
        model.train(was_training)
    bar.update()
    bar.set_postfix_str("checking")
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data))
    bar.update()
    bar.set_postfix_str("writing")
    atomic_write_bytes(Path(out), data)
    bar.update()
    bar.close()
    shape = lambda t: ["batch" if dynamic_batch else 1, *t.shape[1:]]  # noqa: E731
    return ExportReport(str(out), "onnx", size, opset, dynamic_batch, decode, {"images": ["batch" if dynamic_batch else 1, model.in_channels, size, size]},
                        {n: shape(t) for n, t in zip(names, outs)})
