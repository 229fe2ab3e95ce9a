"""Small one-head (stride 8) detectors for CPU tests that train in seconds."""


def _conv(filters: int, size: int, stride: int, bn: bool, act: str = "leaky") -> str:
    return "[convolutional]\n" + ("batch_normalize=1\n" if bn else "") + f"filters={filters}\nsize={size}\nstride={stride}\npad=1\nactivation={act}\n"


def tiny_cfg(plan=((16, 2), (32, 2), (64, 2), (64, 1)), *, bn: bool = True, size: int = 128) -> str:
    """3x3 convolutions ``(filters, stride)``, then a 1x1 to one [yolo] head of 3
    anchors for 3 classes."""
    body = "".join(_conv(f, 3, s, bn) for f, s in plan)
    head = _conv(24, 1, 1, False, "linear") + "[yolo]\nmask=0,1,2\nanchors=16,16, 32,32, 56,56\nclasses=3\nnum=3\n"
    return f"[net]\nwidth={size}\nheight={size}\nchannels=3\n" + body + head


TINY = tiny_cfg()
