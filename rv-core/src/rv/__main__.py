"""``python -m rv``: the ``rv`` command, found through its console-script entry point."""

import sys


def _main() -> int:
    from importlib import metadata

    eps = [ep for ep in metadata.entry_points(group="console_scripts") if ep.name == "rv"]
    if not eps:
        print("rv: the rv command line is not installed: pip install rv-cli", file=sys.stderr)
        return 2
    return eps[0].load()() or 0


if __name__ == "__main__":
    sys.exit(_main())
