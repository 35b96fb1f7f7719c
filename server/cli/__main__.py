"""``python -m server.cli``: the same as the ``parley`` console script (tests and benchmarks use it)."""

from server.cli import main

main()
