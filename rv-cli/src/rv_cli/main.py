"""The ``rv`` command line.

The typer app is assembled from the ``register_commands`` hook of every
plugin (rv-cli's own subcommands included). ``rv`` itself is imported inside
commands only; nothing here imports torch or rasterio.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

HELP = (
    "rv: deep learning on satellite, aerial and drone imagery.\n\n"
    "Describe experiments in Python (rv.ExperimentSet), then `rv run local experiment.py -a root_uri out`."
)


#: options of the current invocation, set by the root callback (not left in os.environ,
#: so that one process may run several commands, as tests do)
STATE: dict[str, int] = {"verbosity": 0, "quiet": 0}


def verbosity() -> int:
    """``-v`` count of the root command plus ``$RV_VERBOSITY``; -1 with ``-q``."""
    if STATE["quiet"]:
        return -1
    return STATE["verbosity"] + int(os.environ.get("RV_VERBOSITY", "0") or 0)


def _root_callback(
    ctx: typer.Context,
    profile: Optional[str] = typer.Option(
        None, "-p", "--profile", help="rv configuration profile (~/.rastervision/<profile>)."
    ),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More output: -v, -vv."),
    quiet: bool = typer.Option(
        False, "-q", "--quiet", help="Only errors: no progress, warnings or summaries (logs keep everything)."
    ),
    tmpdir: Optional[str] = typer.Option(None, "--tmpdir", help="Directory for temporary files (default: $TMPDIR)."),
) -> None:
    # --profile and --tmpdir were applied by main() before plugins loaded (see
    # _apply_root_options); applying them again here covers make_app() callers.
    _apply_root_options(profile, tmpdir)
    STATE["verbosity"] = verbose
    STATE["quiet"] = int(quiet)
    if quiet:  # rv's messages go to stderr; what a command is asked for (rv ls, --json) stays on stdout
        from rv_cli.console import quiet_output

        ctx.with_resource(quiet_output(True, stdout=False))


def _apply_root_options(profile: Optional[str], tmpdir: Optional[str]) -> None:
    if profile:
        # In the environment, so that commands run in subprocesses (the local
        # runner's `rv run_command`) read the same profile.
        from rv.settings import get_settings, reset_settings

        if os.environ.get("RV_PROFILE") != profile:
            os.environ["RV_PROFILE"] = profile
            reset_settings()
        get_settings(profile)  # a profile that does not exist is an error naming the file, not a warning
    if tmpdir:
        os.environ["TMPDIR"] = os.path.abspath(tmpdir)
        from rv.settings import set_tmp_dir

        set_tmp_dir(tmpdir)


def _root_options(argv: list[str]) -> tuple[Optional[str], Optional[str]]:
    """``--profile`` and ``--tmpdir`` among the options before the subcommand.

    They are needed before the app exists: the profile's ``[PLUGINS]``
    section decides which plugins load, and plugins add the subcommands.
    """
    profile = tmpdir = None
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in ("-p", "--profile", "--tmpdir"):
            if not eq:
                i += 1
                value = argv[i] if i < len(argv) else ""
            if name == "--tmpdir":
                tmpdir = value or None
            else:
                profile = value or None
        i += 1
    return profile, tmpdir


def make_app() -> typer.Typer:
    """Build the app: root options plus every plugin's ``register_commands``."""
    app = typer.Typer(
        name="rv",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root_callback)
    from rv.plugins import get_plugin_manager

    pm = get_plugin_manager()
    if pm.get_plugin("rv_cli") is None:
        # rv-cli's own commands (run, ls, plugins, ...) are there even with
        # RV_DISABLE_PLUGIN_AUTOLOAD or an RV_LOAD_PLUGINS list without rv_cli.
        from importlib import metadata

        from rv_cli import plugin as cli_plugin

        try:
            version = metadata.version("rv-cli")
        except metadata.PackageNotFoundError:
            version = None
        pm.add_plugin(cli_plugin, "rv_cli", "rv-cli", version, "rv-cli (always loaded by the rv command)")
    for impl in pm.hook.register_commands.get_hookimpls():
        try:
            impl.function(app=app)
        except Exception as exc:  # a broken plugin command never takes `rv` down
            name = pm.get_name(impl.plugin) or "?"
            info = pm.rv_plugins.get(name)
            pm.record_failure(
                name, info.distribution if info else None, info.version if info else None, "hook register_commands", exc
            )
    return app


def _click_exit_code(e: Exception) -> Optional[int]:
    """Show a click-style exception (usage error, abort, exit) and return its exit code; None for others.

    Duck-typed: recent typer releases raise the exceptions of a click copy of
    their own (``typer._click``), older ones click's.
    """
    if hasattr(e, "show") and isinstance(getattr(e, "exit_code", None), int):
        e.show()
        return e.exit_code
    name = type(e).__name__
    if name == "Exit" and isinstance(getattr(e, "exit_code", None), int):
        return e.exit_code
    if name == "Abort":
        print("Aborted!", file=sys.stderr)
        return 1
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rv`` console script."""
    from rv.errors import RVError

    args = list(sys.argv[1:] if argv is None else argv)
    STATE["verbosity"] = STATE["quiet"] = 0
    from rv_cli.console import install_warning_display

    install_warning_display()
    try:
        _apply_root_options(*_root_options(args))
        app = make_app()
        app(args=args, prog_name="rv", standalone_mode=False)
    except RVError as e:
        from rv_cli.console import error_console

        error_console().print(f"[bold red]rv: error:[/] {e}", highlight=False, soft_wrap=True)
        return 1
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        print("rv: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # usage errors and the like, from click or typer's own copy of it
        code = _click_exit_code(e)
        if code is None:
            raise
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
