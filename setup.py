"""The optional C kernels (yolotools/_native.c); everything else is in pyproject.toml.

optional=True: without a C compiler the install still succeeds and every caller
takes the numpy path, which gives the same numbers.  -ffp-contract=off: no fused
multiply-add, so the doubles equal numpy's (and pycocotools') on every CPU.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("yolotools._native", ["yolotools/_native.c"], optional=True,
                             extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math"])])
