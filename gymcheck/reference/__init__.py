"""The embedded reference stack: a model server, a Gym environment, and a fault layer.

A working miniature of the real system that runs on loopback, on a CPU, with nothing loaded
from the network. ``gymcheck validate`` without ``--base-url`` validates against it.
"""
