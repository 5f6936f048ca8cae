"""A plugin module that cannot be imported: it needs a module nobody installed.

rv must survive it: ``rv --help`` and ``rv plugins list`` keep working,
``rv plugins list`` reports the plugin as failed with the ImportError, and a
one-line warning names it on stderr.
"""

import rv_broken_missing_dependency  # noqa: F401  (does not exist: the point of this package)

from rv import hookimpl


@hookimpl
def register_evaluators(register):  # never reached
    register("BROKEN_EVALUATOR", None)
