"""``python -m ebb`` is the ``ebb`` command."""

from ebb.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
