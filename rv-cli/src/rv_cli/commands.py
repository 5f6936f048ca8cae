"""rv-cli's own subcommands: run, ls, predict, run_command, plugins.

One concept, one module (over 500 lines): the commands rv-cli adds to
``rv``, each a thin layer that parses its arguments, calls the core and
prints; the printing helpers (the run and EVAL summaries, the plugins
table) serve these commands alone.
"""

from __future__ import annotations

import json
import os
from typing import Optional

import typer
from typer.core import TyperCommand

from rv_cli.console import console, error_console


def _verbosity(extra: int = 0) -> int:
    """The root ``-v`` count (and ``$RV_VERBOSITY``) plus a command's own ``-v``."""
    from rv_cli.main import verbosity

    return verbosity() + extra


def _parse_args(words) -> dict[str, str]:
    """The ``-a KEY VALUE`` pairs (joined by :class:`KeyValueArgsCommand`) as a dict."""
    from rv.errors import ConfigError

    args: dict[str, str] = {}
    for word in words or []:
        key, sep, value = word.partition(_ARG_JOIN)
        if not sep:
            raise ConfigError(f"-a takes two values, KEY VALUE: e.g. -a root_uri out (got -a {word}).")
        if key in args and args[key] != value:
            raise ConfigError(f"-a {key} is given twice ({args[key]!r} and {value!r}); give it once.")
        args[key] = value
    return args


def _split_positionals(items: list[str], path: Optional[str]) -> tuple[list[str], Optional[str]]:
    """Positional words are command names (CHIP, train...) or an experiment file (.py)."""
    from rv import keys
    from rv.errors import ConfigError

    commands = []
    for item in items:
        if item.endswith(".py") or os.path.sep in item:
            if path is not None and path != item:
                raise ConfigError(f"Two experiment files given ({path} and {item}); give one.")
            path = item
        elif item.upper() in keys.ALL_COMMANDS:
            commands.append(item.upper())
        else:
            raise ConfigError(
                f"{item!r} is neither a command ({', '.join(keys.ALL_COMMANDS)}) nor an experiment file (.py)."
            )
    return commands, path


def _experiments_source(path: Optional[str], module: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """The ``(path, module)`` to load experiments from.

    With neither ``-p`` nor ``-e``, the experiment sets of ``__main__`` are
    used when it defines some: that is an experiment file run as a script,
    calling ``rv.main()`` (Raster Vision's "loaded from __main__").
    """
    if path is not None or module is not None:
        return path, module
    import sys

    from rv.errors import ConfigError
    from rv.experiment.experiment_set import experiment_sets_in

    main = sys.modules.get("__main__")
    if main is not None and experiment_sets_in(main):
        return None, "__main__"
    raise ConfigError("Name the experiments: rv run local experiment.py (or -p PATH, or -e MODULE).")


def _source_text(path: Optional[str], module: Optional[str]) -> str:
    """How the command line names the experiments (for the commands an error suggests typing)."""
    if path:
        return path
    if module == "__main__":
        import sys

        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if main_file:
            return os.path.relpath(main_file)
    return f"-e {module}"


def _load(path, module, arg, prefix, method, filter_):
    from rv.experiment.experiment_set import load_experiments

    path, module = _experiments_source(path, module)
    return load_experiments(
        path=path,
        module=module,
        args=_parse_args(arg or []),
        prefix=prefix,
        methods=method or None,
        filters=filter_ or None,
    )


_ARG_HELP = "Experiment argument: -a KEY VALUE (repeatable)."
_QUIET_HELP = "Only errors: no progress, warnings or summary (each command's log.txt still has its output)."
#: -e and its two long spellings: rv's dashed one and Raster Vision's underscored one
_MODULE_OPTIONS = ("-e", "--experiment-module", "--experiment_module")
_MODULE_HELP = (
    "Importable module defining experiments (imported with the working directory on sys.path, "
    "e.g. -e examples.spacenet.experiments)."
)
_ARG_OPTIONS = ("-a", "--arg")
#: joins KEY and VALUE of ``-a KEY VALUE`` into the one word typer parses (a key never holds it)
_ARG_JOIN = "\x1f"


class KeyValueArgsCommand(TyperCommand):
    """A typer command whose ``-a/--arg`` takes two words, ``KEY VALUE``, as in Raster Vision.

    typer has no repeatable two-value option, so the two words are joined
    into one before parsing and split again by :func:`_parse_args`.
    """

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        from rv.errors import ConfigError

        joined: list[str] = []
        i = 0
        while i < len(args):
            word = args[i]
            if word == "--":
                joined.extend(args[i:])
                break
            if word in _ARG_OPTIONS:
                if len(args) - i < 3:
                    raise ConfigError(f"{word} takes two values, KEY VALUE: e.g. {word} root_uri out")
                joined += [word, f"{args[i + 1]}{_ARG_JOIN}{args[i + 2]}"]
                i += 3
                continue
            joined.append(word)
            i += 1
        return super().parse_args(ctx, joined)


def run(
    runner: str = typer.Argument(..., help="Runner key: local, inprocess, aws_batch, or one a plugin registers."),
    items: Optional[list[str]] = typer.Argument(
        None, help="Commands to run (default all) and/or the experiment .py file."
    ),
    experiment_module: Optional[str] = typer.Option(None, *_MODULE_OPTIONS, help=_MODULE_HELP),
    path: Optional[str] = typer.Option(None, "-p", "--path", help="Experiment .py file."),
    dry_run: bool = typer.Option(
        False, "-n", "--dry-run", "--dry_run", help="Print the commands in order and run nothing."
    ),
    skip_file_check: bool = typer.Option(False, "-x", "--skip-file-check", help="Skip 'Ensuring input files exist'."),
    arg: Optional[list[str]] = typer.Option(None, "-a", "--arg", metavar="KEY VALUE", help=_ARG_HELP),
    prefix: str = typer.Option("exp_", "--prefix", help="Prefix of experiment methods."),
    method: Optional[list[str]] = typer.Option(None, "-m", "--method", help="Only methods matching this pattern."),
    filter_: Optional[list[str]] = typer.Option(
        None, "-f", "--filter", help="Only experiment ids matching this pattern."
    ),
    rerun: bool = typer.Option(False, "-r", "--rerun", help="Run commands even when their outputs exist."),
    tempdir: Optional[str] = typer.Option(None, "--tempdir", help="Temporary directory for this run."),
    jobs: int = typer.Option(1, "-j", "--jobs", help="Run up to N independent commands in parallel."),
    splits: int = typer.Option(
        1, "--splits", min=1, help="Run CHIP, PREDICT (and ANALYZE with the stats analyzer) as N parts plus a merge."
    ),
    verbose: int = typer.Option(
        0,
        "-v",
        "--verbose",
        count=True,
        help="More output: every distinct warning message and each command's start line; with -n, -v key "
        "fields, -vv full JSON.",
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help=_QUIET_HELP),
    ctx: typer.Context = None,  # type: ignore[assignment]  # typer passes the click context
) -> None:
    """Run experiments: build the command graph and execute it with RUNNER."""
    import time

    from rv.run_output import recording_run
    from rv_cli.console import quiet_output

    # For the whole command: -q silences it; the run's record says each warning once and feeds the summary.
    verbosity = -1 if quiet else _verbosity(verbose)
    ctx.with_resource(quiet_output(verbosity < 0, stdout=not dry_run))
    record = ctx.with_resource(recording_run(verbosity))

    from rv.command.dag import build_plan, plan_text
    from rv.errors import ConfigError
    from rv.runner.runner import RunOptions
    from rv.running import execute_plan, make_runner

    if tempdir:
        from rv.settings import set_tmp_dir

        set_tmp_dir(tempdir)
        os.environ["TMPDIR"] = os.path.abspath(tempdir)
    commands, path = _split_positionals(arg_list(items), path)
    path, experiment_module = _experiments_source(path, experiment_module)
    runner_obj = make_runner(runner)
    experiments = _load(path, experiment_module, arg, prefix, method, filter_)
    if not experiments:
        raise ConfigError("No experiments matched: check -m/-f patterns and the exp_ methods.")
    # What the user would type to include a missing upstream command ({commands}: the names to give).
    shown_args = "".join(f" -a {k} {v}" for k, v in _parse_args(arg or []).items())
    command_line = f"rv run {runner} {_source_text(path, experiment_module)} {{commands}}{shown_args}"
    plan = build_plan(
        experiments,
        commands or None,
        rerun=rerun,
        check_inputs=not skip_file_check,
        command_line=command_line,
        splits=splits,
    )
    options = RunOptions(parallelism=jobs, tmp_dir=tempdir, dry_run=dry_run, verbosity=verbosity)
    if dry_run:
        if not skip_file_check and plan.to_run():
            # A dry run is where users check an experiment: bad data must fail here too.
            from rv.command.preflight import preflight

            preflight(plan)
        # soft_wrap: long URIs stay on one line, whole, whatever the terminal width.
        console().print(plan_text(plan, verbosity), highlight=False, markup=False, soft_wrap=True)
        if hasattr(runner_obj, "dry_run"):
            runner_obj.dry_run(plan, options)
        return
    # What rv.run() does from Python: check the inputs, run, record the experiments.
    started = time.monotonic()
    execute_plan(plan, experiments, runner_obj, options, check_inputs=not skip_file_check)
    # A runner that finishes the commands before returning (local, inprocess) ran them; others submitted them.
    ran_here = getattr(runner_obj, "runs_here", False)
    verb = "ran" if ran_here else f"submitted to {runner}"
    print_run_summary(plan, experiments, verb, time.monotonic() - started, record, ran_here)


def _grouped_names(commands) -> str:
    """``key: ANALYZE, CHIP; other-key: TRAIN``: command types grouped by key, in plan order."""
    by_key: dict[str, list[str]] = {}
    for pc in commands:
        part = getattr(pc.config, "part", None)  # a part of a split command (--splits)
        label = (
            pc.config.command_type if part is None else f"{pc.config.command_type} part {part + 1}/{pc.config.parts}"
        )
        by_key.setdefault(pc.config.key, []).append(label)
    return "; ".join(f"{key}: {', '.join(types)}" for key, types in by_key.items())


def _pictures(plan) -> list[str]:
    """The pictures the plan's commands made: each PNG of a command's folder, and each subfolder of
    PNGs (CHIP's debug chips) as one entry with its count."""
    from rv import file_utils

    found = []
    for pc in plan.commands:
        if getattr(pc.config, "part", None) is not None:  # within the whole command's folder, listed with it
            continue
        base = pc.config.command_uri.rstrip("/")
        try:
            pngs = file_utils.list_paths(base, ext="png", recursive=True)
        except Exception:  # a folder that cannot be listed just shows no pictures
            continue
        folders: dict[str, int] = {}
        for uri in pngs:
            sub, sep, _ = uri[len(base) :].lstrip("/").partition("/")
            if sep:
                folders[sub] = folders.get(sub, 0) + 1
            else:
                found.append(uri)
        found.extend(f"{file_utils.join(base, sub)}/ ({n} pictures)" for sub, n in folders.items())
    return found


def print_run_summary(plan, experiments, verb: str, seconds: float, record, ran_here: bool) -> None:
    """The end of ``rv run``, on stderr: what ran (or was submitted) and what was skipped, where the
    outputs and pictures are, each EVAL's scores, and the run's warnings again, one line each."""
    import sys

    from rv.command.dag import RUN

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    todo = plan.to_run()
    took = f" in {seconds:.1f} s" if ran_here and todo else ""
    say(f"rv: {verb} {len(todo)} command(s){took}" + (f": {_grouped_names(todo)}" if todo else ""))
    skipped = [pc for pc in plan.commands if pc.status != RUN]
    if skipped:
        say(f"rv: skipped {len(skipped)} command(s), outputs up to date: {_grouped_names(skipped)}")
    if not ran_here:
        return
    for root in dict.fromkeys(exp.root_uri.rstrip("/") for exp in experiments):
        say(f"rv: outputs in {root}/<command>/<key>/, each with its log.txt")
    for picture in _pictures(plan):
        say(f"rv: picture: {picture}")
    with_scores = print_eval_summary(plan)  # an EVAL's warnings are said with its scores
    again = record.summary_lines(leave_out=with_scores)
    if again:
        say(f"rv: {len(again)} kind(s) of warning in this run (all in the commands' log.txt):")
        for line in again:
            say(f"  {line}")


def print_eval_summary(plan) -> set[str]:
    """The end of ``rv run``: each EVAL command's scores, and its warnings when the scores mean nothing.

    Reads the ``eval.json`` files of the plan's EVAL commands (run now or
    earlier); one that cannot be read is left out, never an error. Returns
    the warnings it printed.
    """
    import sys

    from rv import file_utils, keys
    from rv.evaluation.evaluator import summary_lines

    shown: set[str] = set()
    for pc in plan.commands:
        if pc.config.command_type != keys.EVAL:
            continue
        for uri in pc.config.outputs():
            try:
                report = json.loads(file_utils.read_text(uri))
            except Exception:  # missing or unreadable: the run's own messages have said why
                continue
            print(f"rv: {pc.name} (experiment {', '.join(pc.experiment_ids)}): {uri}", file=sys.stderr)
            for line in summary_lines(report):
                print(f"  {line}", file=sys.stderr)
            shown.update(" ".join(str(w).split()) for w in report.get("warnings", []))
    return shown


def arg_list(items: Optional[list[str]]) -> list[str]:
    return list(items or [])


def ls(
    path_arg: Optional[str] = typer.Argument(None, help="Experiment .py file."),
    experiment_module: Optional[str] = typer.Option(None, *_MODULE_OPTIONS, help=_MODULE_HELP),
    path: Optional[str] = typer.Option(None, "-p", "--path", help="Experiment .py file."),
    arg: Optional[list[str]] = typer.Option(None, "-a", "--arg", metavar="KEY VALUE", help=_ARG_HELP),
    prefix: str = typer.Option("exp_", "--prefix"),
    method: Optional[list[str]] = typer.Option(None, "-m", "--method"),
    filter_: Optional[list[str]] = typer.Option(None, "-f", "--filter"),
) -> None:
    """List the experiment ids an experiment file defines."""
    for exp in _load(path or path_arg, experiment_module, arg, prefix, method, filter_):
        console().print(exp.id, highlight=False)


def run_command(
    command_config_uri: str = typer.Argument(..., help="URI of a command-config.json."),
    tmpdir: Optional[str] = typer.Option(None, "--tmpdir", help="Temporary directory."),
    array_index_env: Optional[str] = typer.Option(
        None,
        "--array-index-env",
        metavar="VAR",
        help="Run one task of an array job: the URI's {index} is the part named by this variable.",
    ),
    array_parts: Optional[str] = typer.Option(
        None, "--array-parts", metavar="LIST", help="With --array-index-env: task i runs the i-th part of LIST (1,3)."
    ),
) -> None:
    """Run one command from its serialized config (what every runner calls)."""
    from rv.command.run_command import run_command as _run

    if array_index_env:
        from rv.command.split import resolve_array_uri

        command_config_uri = resolve_array_uri(command_config_uri, array_index_env, array_parts)

    if tmpdir:
        from rv.settings import set_tmp_dir

        set_tmp_dir(tmpdir)
    _run(command_config_uri, tmpdir)


#: extensions of the images ``rv predict`` takes from a folder
_PREDICT_IMAGE_EXTENSIONS = ("tif", "tiff")


def _predict_images(images: list[str]) -> tuple[list[str], bool]:
    """The image URIs of ``rv predict``'s IMAGE arguments (a folder gives its GeoTIFFs, sorted), and
    whether the output is a folder (several images, or any folder given)."""
    from rv import file_utils
    from rv.errors import ConfigError

    found: list[str] = []
    folder_given = False
    for image in images:
        if file_utils.is_local(image):
            is_folder = os.path.isdir(image)
        else:  # an object store lists a file as itself
            listed = file_utils.list_paths(image)
            is_folder = bool(listed) and listed != [image]
        if not is_folder:
            found.append(image)
            continue
        folder_given = True
        tifs = file_utils.list_paths(image, ext=_PREDICT_IMAGE_EXTENSIONS)
        if not tifs:
            raise ConfigError(
                f"The folder {image} holds no GeoTIFF (*.tif, *.tiff) to predict on; give image files or a "
                "folder of GeoTIFFs."
            )
        found.extend(tifs)
    return found, folder_given or len(found) > 1


def predict(
    bundle: str = typer.Argument(..., help="Model bundle (model-bundle.zip)."),
    images: list[str] = typer.Argument(
        ..., metavar="image", help="Image(s) to predict on (GeoTIFF), or a folder of GeoTIFFs."
    ),
    output: str = typer.Argument(
        ...,
        help="Where to write the labels: a file for one image, or a folder that gets one prediction per "
        "image, named after it (with several images, a folder of images, an existing folder or a path ending in /).",
    ),
    update_stats: bool = typer.Option(
        False,
        "-a",
        "--update-stats",
        help="Compute the statistics on each image instead of using the bundle's (stats transformer).",
    ),
    channel_order: Optional[str] = typer.Option(None, "--channel-order", help='Bands to use, e.g. "2 1 0".'),
    export_config: Optional[str] = typer.Option(
        None,
        "--export-config",
        help="Also write the prediction config here (a folder, one <image name>.json each, for several images).",
    ),
) -> None:
    """Predict on images with a model bundle, writing what the experiment's PREDICT writes (class
    GeoTIFF and, as configured, polygons, scores or colors; boxes or cells as GeoJSON).

    The model is loaded once for all the images.
    """
    import rv
    from rv.errors import ConfigError

    image_uris, to_folder = _predict_images(images)
    to_folder = to_folder or output.endswith("/") or os.path.isdir(output)
    if to_folder and os.path.isfile(output):
        raise ConfigError(
            f"The predictions of {len(image_uris)} image(s) from {', '.join(images)} go to a folder, but "
            f"{output} is a file: give a folder (one prediction per image, named after it)."
        )
    order = [int(c) for c in channel_order.replace(",", " ").split()] if channel_order else None
    predictor = rv.Predictor(bundle, update_stats=update_stats, channel_order=order)
    if not to_folder:
        predictor.predict(image_uris[0], output, config_uri=export_config)
        error_console().print(f"rv: wrote predictions to {output}", highlight=False, soft_wrap=True)
        return
    written = predictor.predict_images(image_uris, output, config_dir=export_config)
    for out in written.values():
        error_console().print(f"rv: wrote predictions to {out}", highlight=False, soft_wrap=True)


#: hooks shown in the ``provides`` column beside the registered keys (what else a plugin contributes)
_SHOWN_HOOKS = (
    "default_raster_source",
    "default_label_source",
    "default_label_store",
    "default_evaluator",
    "file_system_for",
    "register_commands",
)


def _provides_lines(info) -> list[str]:
    """One line per group, ``group: KEY, KEY``, then the provider hooks, then where it came from.

    A plugin of no distribution (the older form named in ``[PLUGINS]``, or one
    registered in-process) says where it came from: ``source: legacy module
    my_team.rv_plugin`` or ``source: legacy file /opt/plugins/p.py``.
    """
    lines = [f"{group}: {', '.join(sorted(keys))}" for group, keys in sorted(info.provides.items())]
    hooks = [h for h in info.hooks if h in _SHOWN_HOOKS]
    if hooks:
        lines.append("hooks: " + ", ".join(hooks))
    return lines + _source_lines(info)


def _source_lines(info) -> list[str]:
    return [] if info.distribution else [f"source: {info.source}"]


def _wrap(lines: list[str], width: int) -> str:
    """Wrap each line at spaces only, continuation lines indented: a key is never split."""
    import textwrap

    out: list[str] = []
    for line in lines:
        out.extend(
            textwrap.wrap(line, width=width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)
            or [""]
        )
    return "\n".join(out)


def plugins_table(infos, width: int):
    """The rich table of ``rv plugins list`` for a console ``width`` columns wide.

    Plugin, distribution and version never wrap; the last column lists what a
    plugin provides, one registry group per line (``evaluators: A, B``),
    wrapped between keys with a hanging indent, or why it failed.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    headers = ("plugin", "distribution", "version", "status", "provides")
    rows = []
    for p in infos:
        ok = p.status == "ok"
        details = _provides_lines(p) if ok else [f"error: {p.error}", *_source_lines(p)]
        rows.append((p.name, p.distribution or "-", p.version or "-", "ok" if ok else "failed", details, ok))
    fixed = sum(max([len(headers[i])] + [len(r[i]) for r in rows]) for i in range(4))
    # SIMPLE_HEAD without edges: an inner column border is a blank with one space of padding either side.
    last = max(width - fixed - 3 * (len(headers) - 1), 24)
    table = Table(title="rv plugins", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for h in headers[:4]:
        table.add_column(h, no_wrap=True)
    table.add_column(headers[4], overflow="fold")
    for name, dist, version, status, details, ok in rows:
        table.add_row(
            Text(name, style="bold"),
            dist,
            version,
            Text(status, style="green" if ok else "bold red"),
            Text(_wrap(details, last) or "-", style="" if ok else "red"),
        )
    return table


def plugins_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    hook: Optional[str] = typer.Option(None, "--hook", help="Only plugins implementing this hook."),
) -> None:
    """List plugins: distribution, version, status and what each provides."""
    from rv import hookspecs
    from rv.errors import PluginError
    from rv.plugins import get_plugin_manager

    pm = get_plugin_manager()
    infos = pm.plugin_infos()
    if hook:
        known = sorted(n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "rv_spec"))
        if hook not in known:
            import difflib

            close = difflib.get_close_matches(hook, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PluginError(f"Unknown hook {hook!r}.{hint} rv's hooks: {', '.join(known)}.")
        infos = [p for p in infos if hook in p.hooks]
    if as_json:
        print(json.dumps([p.to_dict() for p in infos], indent=2))
        return
    con = console()
    con.print(plugins_table(infos, con.width), highlight=False)
    failed = [p.name for p in infos if p.status != "ok"]
    if failed:
        con.print(
            f"{len(failed)} plugin(s) failed to load ({', '.join(failed)}); rv works without them. "
            "Fix or uninstall them; RV_STRICT_PLUGINS=1 makes a failure an error.",
            highlight=False,
            style="red",
        )


def add_builtin_commands(app: typer.Typer) -> None:
    """Add rv-cli's own subcommands to the root app."""
    app.command("run", cls=KeyValueArgsCommand)(run)
    app.command("ls", cls=KeyValueArgsCommand)(ls)
    app.command("predict")(predict)
    app.command("run_command")(run_command)
    app.command("run-command", hidden=True)(run_command)
    plugins_app = typer.Typer(help="Inspect installed plugins.", no_args_is_help=True)
    plugins_app.command("list")(plugins_list)
    app.add_typer(plugins_app, name="plugins")
