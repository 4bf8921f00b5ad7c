"""``python -m sktvnet``: the same as the ``sktvnet`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
