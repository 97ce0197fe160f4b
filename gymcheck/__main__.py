"""``python -m gymcheck``."""

from gymcheck.cli import main

main()
