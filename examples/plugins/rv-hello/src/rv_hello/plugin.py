"""rv-hello's plugin module, loaded at plugin discovery.

It imports only ``rv`` and this package's light config module; the
evaluator entity and the command's body are imported when they run, as
every plugin should (``rv --help`` stays fast).
"""

from __future__ import annotations

from rv import hookimpl
from rv_hello import HELLO_EVALUATOR


@hookimpl
def register_evaluators(register):
    """Register ``HELLO_EVALUATOR``."""
    from rv_hello.hello_evaluator_config import HelloEvaluatorConfigBuilder

    register(HELLO_EVALUATOR, HelloEvaluatorConfigBuilder)


@hookimpl
def register_commands(app):
    """Add ``rv hello [NAME]`` to the ``rv`` command line."""
    import typer

    @app.command("hello")
    def hello(
        name: str = typer.Argument("world", help="Who to greet."),
        greeting: str = typer.Option("Hello", "--greeting", "-g", help="The greeting word."),
    ) -> None:
        """Say hello (a command contributed by the rv-hello plugin)."""
        from rv_hello.hello_evaluator import greet

        typer.echo(greet(greeting, name))
