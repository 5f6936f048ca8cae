"""rv-cli: the ``rv`` command (typer + rich)."""
