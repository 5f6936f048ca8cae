"""Runners execute the command graph: ``local`` here, others through plugins."""
