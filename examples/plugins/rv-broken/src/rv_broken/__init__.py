"""rv-broken: a plugin that fails to import, on purpose (see README.md)."""
