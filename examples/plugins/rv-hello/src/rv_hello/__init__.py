"""rv-hello: a sample third-party rv plugin.

It registers the evaluator key :data:`HELLO_EVALUATOR` and the ``rv hello``
command through the ``rv.plugins`` entry point ``rv_hello = "rv_hello.plugin"``.
"""

#: Key of the hello evaluator: ``rv.EvaluatorConfig.builder(rv_hello.HELLO_EVALUATOR)``.
HELLO_EVALUATOR = "HELLO_EVALUATOR"

__all__ = ["HELLO_EVALUATOR"]
