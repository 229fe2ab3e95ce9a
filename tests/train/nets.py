"""A 5-layer, one-head (stride 8) detector small enough for CPU tests in seconds."""

TINY = """[net]
width=128
height=128
channels=3
[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=32
size=3
stride=2
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=64
size=3
stride=2
pad=1
activation=leaky
[convolutional]
batch_normalize=1
filters=64
size=3
stride=1
pad=1
activation=leaky
[convolutional]
filters=24
size=1
stride=1
pad=1
activation=linear
[yolo]
mask=0,1,2
anchors=16,16, 32,32, 56,56
classes=3
num=3
"""
