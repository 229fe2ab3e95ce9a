"""The one C kernel (yolotools/eval/_cocoeval.c: pycocotools' evaluateImg +
accumulate); everything else is in pyproject.toml.

Required: an install without a C compiler fails here, so every machine runs
the same code.  -ffp-contract=off: no fused multiply-add, so the doubles equal
pycocotools' on every CPU.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("yolotools.eval._cocoeval", ["yolotools/eval/_cocoeval.c"],
                             extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math"])])
