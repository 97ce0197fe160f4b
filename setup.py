"""Only the optional C extension; the project's metadata is in pyproject.toml.

``gymcheck._bytescan`` (gymcheck/_bytescan.c) speeds up the rollout scan's fast path. Without
a C compiler the install still succeeds (``optional=True``) and ``gymcheck.bytescan`` falls
back to pure Python, with the same answers.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("gymcheck._bytescan", ["gymcheck/_bytescan.c"], optional=True)])
