"""Building blocks shared by the cfg-built and the code-built networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvBNAct", "DarknetMaxPool", "Reorg", "Upsample", "DarkResidual", "activation"]


def activation(name: str) -> nn.Module:
    name = name.lower()
    if name == "leaky":
        return nn.LeakyReLU(0.1, inplace=True)
    if name == "linear":
        return nn.Identity()
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "mish":
        return nn.Mish(inplace=True)
    if name == "logistic":
        return nn.Sigmoid()
    if name == "swish":
        return nn.SiLU(inplace=True)
    raise ValueError(f"unsupported activation {name!r}")


class ConvBNAct(nn.Module):
    """Darknet ``[convolutional]``: conv (bias only without batch norm), BN, activation.

    In a ``.weights`` file this layer is stored as: BN bias (beta), BN scale
    (gamma), running mean, running variance, conv weights; or, without BN, conv
    bias then conv weights."""

    def __init__(self, c_in: int, c_out: int, k: int = 1, s: int = 1, *, bn: bool = True, act: str = "leaky", pad: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, s, (k // 2) if pad else 0, bias=not bn)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-5, momentum=0.03) if bn else None
        self.act = activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)


class DarknetMaxPool(nn.Module):
    """Darknet ``[maxpool]``: total padding ``size - 1`` (left ``pad // 2``), so
    ``size=2, stride=1`` keeps the size (yolov3-tiny) and odd sizes pad evenly (SPP)."""

    def __init__(self, size: int, stride: int):
        super().__init__()
        self.size, self.stride = size, stride
        total = size - 1
        self.pad = (total // 2, total - total // 2, total // 2, total - total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad, value=float("-inf"))
        return F.max_pool2d(x, self.size, self.stride)


class Reorg(nn.Module):
    """Darknet ``[reorg]`` (YOLOv2) with its exact channel order: the input
    ``(C, H, W)`` buffer is read as ``(C/s^2, H*s, W*s)`` and rearranged, as
    Darknet's ``reorg_cpu(..., forward=0)`` does; output ``(C*s^2, H/s, W/s)``."""

    def __init__(self, stride: int = 2):
        super().__init__()
        self.s = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        s = self.s
        oc = c // (s * s)
        # x viewed as (oc, h*s, w*s) -> split rows/cols into (j, dy) and (i, dx)
        v = x.reshape(b, oc, h, s, w, s)  # [c2, j, dy, i, dx] with h2 = j*s + dy, w2 = i*s + dx
        v = v.permute(0, 3, 5, 1, 2, 4)  # [dy, dx, c2, j, i]; k = (dy*s + dx) * oc + c2
        return v.reshape(b, c, h, w).reshape(b, c * s * s, h // s, w // s)


class Upsample(nn.Module):
    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.stride, mode="nearest")


class DarkResidual(nn.Module):
    """Darknet-53 residual block: 1x1 (c/2) then 3x3 (c), added to the input."""

    def __init__(self, c: int):
        super().__init__()
        self.cv1 = ConvBNAct(c, c // 2, 1)
        self.cv2 = ConvBNAct(c // 2, c, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.cv2(self.cv1(x))
