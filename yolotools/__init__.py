"""yolotools: convert, check, cluster, augment, train and evaluate YOLO-family detectors.

Importing the package is cheap (numpy only); heavy dependencies (torch,
albumentations, pandas, matplotlib) are imported by the modules that need them.
"""

__version__ = "0.1.0"
