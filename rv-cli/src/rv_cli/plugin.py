"""rv-cli's plugin: its own subcommands are registered like any plugin's."""

from rv.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    from rv_cli import commands

    commands.add_builtin_commands(app)
