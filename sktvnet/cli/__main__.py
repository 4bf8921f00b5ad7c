"""``python -m sktvnet.cli``: the same as the ``sktvnet`` command."""

from . import main

if __name__ == "__main__":
    raise SystemExit(main())
