"""ExperimentSet and the loader that turns an experiment file into configs."""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import inspect
import sys
import typing
from pathlib import Path
from typing import Any

from rv.errors import ConfigError


class ExperimentSet:
    """Subclass and add ``exp_*`` methods returning an ExperimentConfig or a list.

    Method parameters are filled from ``rv run ... -a NAME VALUE``::

        class Buildings(rv.ExperimentSet):
            def exp_main(self, root_uri, epochs=3):
                ...
                return experiment
    """


_SCALARS = {"bool": bool, "int": int, "float": float, "str": str}


def _target_type(param: inspect.Parameter, hints: dict[str, Any]) -> type | None:
    """The scalar type an ``-a`` value is converted to: from the annotation, else the default.

    Understands real and string annotations (``from __future__ import
    annotations``), including ``int | None`` and ``Optional[float]``.
    """
    annotation = hints.get(param.name, param.annotation)
    if annotation is not inspect.Parameter.empty:
        if isinstance(annotation, str):
            words = [w.strip() for w in annotation.replace("Optional[", "").replace("]", "").split("|")]
            words = [w for w in words if w not in ("None", "")]
            if len(words) == 1 and words[0] in _SCALARS:
                return _SCALARS[words[0]]
        elif annotation in _SCALARS.values():
            return annotation
        else:
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1 and args[0] in _SCALARS.values():
                return args[0]
    if param.default is not inspect.Parameter.empty and type(param.default) in _SCALARS.values():
        return type(param.default)
    return None


def _convert(value: str, param: inspect.Parameter, hints: dict[str, Any] | None = None, where: str = "") -> Any:
    """Convert the string of ``-a NAME VALUE`` to the parameter's type (bool, int, float; else str)."""
    target = _target_type(param, hints or {})
    where = f" of {where}" if where else ""
    if target is bool:
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"Argument -a {param.name} {value!r}{where} is not a boolean: use true or false.")
    if target in (int, float):
        try:
            return target(value)
        except ValueError:
            raise ConfigError(
                f"Argument -a {param.name} {value!r}{where} is not {'an' if target is int else 'a'} "
                f"{target.__name__}: pass a number, e.g. -a {param.name} {target(3)}."
            ) from None
    return value


def _type_hints(method) -> dict[str, Any]:
    try:
        return typing.get_type_hints(method)
    except Exception:  # unresolvable annotations: fall back to the raw strings
        return {}


def load_module_from_path(path: str):
    """Import an experiment file by path."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"Experiment file {path} does not exist; pass the path of a .py file defining an rv.ExperimentSet.")
    name = f"rv_experiments_{p.stem}"
    spec = importlib.util.spec_from_file_location(name, str(p.resolve()))
    if spec is None or spec.loader is None:
        raise ConfigError(f"Cannot import experiment file {path}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(p.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)  # a half-imported file must not be found next time
        raise
    finally:
        sys.path.pop(0)
    return module


def import_experiment_module(module: str):
    """Import an experiment module by name (``-e MODULE``); a missing module is a ConfigError."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and (module == e.name or module.startswith(e.name + ".")):
            raise ConfigError(
                f"Cannot import the experiment module {module!r}: {e}. Check its name and that its "
                f"package is on sys.path (installed, or run from the directory that holds it); "
                f"for a file use -p path/to/experiments.py."
            ) from e
        raise


def experiment_sets_in(module) -> list[type[ExperimentSet]]:
    sets = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, ExperimentSet) and obj is not ExperimentSet
        and obj.__module__ == module.__name__
    ]
    return sets


def load_experiments(
    path: str | None = None,
    module: str | None = None,
    args: dict[str, str] | None = None,
    prefix: str = "exp_",
    methods: list[str] | None = None,
    filters: list[str] | None = None,
) -> list:
    """Call every matching ``exp_*`` method and return the experiment configs.

    ``methods`` are fnmatch patterns of method names (without the prefix),
    ``filters`` patterns of experiment ids.
    """
    from rv.config import ConfigBuilder
    from rv.experiment.experiment_config import ExperimentConfig

    if (path is None) == (module is None):
        raise ConfigError("Name experiments with a .py path (-p/positional) or a module (-e), exactly one of them.")
    mod = load_module_from_path(path) if path else import_experiment_module(module)
    source = path or module
    sets = experiment_sets_in(mod)
    if not sets:
        raise ConfigError(f"{source} defines no subclass of rv.ExperimentSet.")
    args = dict(args or {})
    used_args: set[str] = set()
    experiments: list[ExperimentConfig] = []
    for set_cls in sets:
        instance = set_cls()
        for name in sorted(dir(set_cls)):
            if not name.startswith(prefix) or not callable(getattr(set_cls, name)):
                continue
            short = name[len(prefix):]
            if methods and not any(fnmatch.fnmatch(short, m) or fnmatch.fnmatch(name, m) for m in methods):
                continue
            method = getattr(instance, name)
            sig = inspect.signature(method)
            hints = _type_hints(method)
            kwargs = {}
            missing = []
            for pname, param in sig.parameters.items():
                if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                    continue
                if pname in args:
                    kwargs[pname] = _convert(args[pname], param, hints, f"{set_cls.__name__}.{name}")
                    used_args.add(pname)
                elif param.default is inspect.Parameter.empty:
                    missing.append(pname)
            if missing:
                needed = " ".join(f"-a {m} VALUE" for m in missing)
                given = f" (given: {', '.join(sorted(args))})" if args else ""
                raise ConfigError(
                    f"{set_cls.__name__}.{name} in {source} needs argument(s) {', '.join(missing)}{given}: "
                    f"add {needed} to the command line."
                )
            result = method(**kwargs)
            items = result if isinstance(result, (list, tuple)) else [result]
            for item in items:
                if isinstance(item, ConfigBuilder):
                    item = item.build()
                if not isinstance(item, ExperimentConfig):
                    raise ConfigError(
                        f"{set_cls.__name__}.{name} returned {type(item).__name__}; exp_ methods return an "
                        "ExperimentConfig or a list of them."
                    )
                experiments.append(item)
    if filters:
        experiments = [e for e in experiments if any(fnmatch.fnmatch(e.id, f) for f in filters)]
    ids = [e.id for e in experiments]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"Experiment id(s) {', '.join(dupes)} appear more than once in {source}; ids must be unique.")
    unused = set(args) - used_args
    if unused and experiments:
        print(f"rv: warning: argument(s) {', '.join(sorted(unused))} not used by any exp_ method", file=sys.stderr)
    return experiments
