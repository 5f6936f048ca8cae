"""ExperimentSet and the loader that turns an experiment file into configs."""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import inspect
import os
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


def package_module_name(path: str | Path) -> tuple[Path, str] | None:
    """``(root, dotted name)`` of a .py file inside a package, or None for a file in a plain folder.

    The package is found by walking up folders that hold an ``__init__.py``;
    ``root`` is the folder above the topmost one, the directory that goes on
    ``sys.path`` (``repo/examples/spacenet/rio.py`` with ``examples/`` and
    ``examples/spacenet/`` packages gives ``(repo, "examples.spacenet.rio")``).
    """
    p = Path(path).resolve()
    if p.name == "__init__.py":
        parts = []  # the package itself
    elif p.stem.isidentifier():
        parts = [p.stem]
    else:
        return None  # not importable by name (e.g. my-experiment.py): loaded as a plain file
    folder = p.parent
    while (folder / "__init__.py").is_file() and folder.name.isidentifier():
        parts.insert(0, folder.name)
        folder = folder.parent
    if folder == p.parent:
        return None
    return folder, ".".join(parts)


class _ImportDirs:
    """Directories put at the front of ``sys.path`` while experiments load, then taken off again.

    Experiment files import helpers from their own repository (``from
    examples.utils import ...``), also inside ``exp_`` methods, so the
    directories stay on ``sys.path`` until every method has run.
    """

    def __init__(self) -> None:
        self.added: list[str] = []

    def add(self, directory: str | Path) -> None:
        directory = str(directory)
        if directory not in sys.path:
            sys.path.insert(0, directory)
            self.added.append(directory)

    def remove_all(self) -> None:
        for directory in self.added:
            try:
                sys.path.remove(directory)
            except ValueError:
                pass
        self.added.clear()


def _searched() -> str:
    """The directories Python searched for modules (``sys.path``), for an import error message.

    The standard library's own directories are left out: a user's module is never there.
    """
    import sysconfig

    stdlib = {str(Path(sysconfig.get_paths()[k]).resolve()) for k in ("stdlib", "platstdlib")}
    dirs = []
    for entry in sys.path:
        path = Path(entry or os.getcwd()).resolve()
        if path.suffix == ".zip" or str(path) in stdlib or (str(path.parent) in stdlib and path.name == "lib-dynload"):
            continue
        dirs.append(str(path))
    return ", ".join(dict.fromkeys(dirs))


def _import_failed(what: str, error: ImportError) -> ConfigError:
    """A ConfigError for an import that failed while loading experiments: the module and where Python looked."""
    if isinstance(error, ModuleNotFoundError) and error.name:
        top = error.name.split(".")[0]
        return ConfigError(
            f"{what} failed: there is no module {error.name!r}. Python searched these "
            f"directories: {_searched()}. If {top!r} is a package of your repository, run rv from the "
            f"folder that holds {top}/ (with -e {top}.… or -p {top}/…/file.py), or make the package "
            f"installable and pip install -e it; if it is a library, pip install it."
        )
    if "relative import" in str(error):
        return ConfigError(
            f"{what} failed: {error}. A file that imports with a leading dot (from .data import …) "
            f"must be part of a package: put an __init__.py in its folder (and in each folder up to "
            f"the package root), then run it with -p path/to/file.py or -e package.module."
        )
    return ConfigError(f"{what} failed: {error}. Python searched these directories: {_searched()}.")


def _syntax_error(what: str, error: SyntaxError) -> ConfigError:
    """A ConfigError for Python code that does not parse: the file, the line, the problem and the code."""
    where = error.filename or "?"
    place = f"line {error.lineno}" if error.lineno else "an unknown line"
    if error.lineno and error.offset:
        place += f", column {error.offset}"
    code = (error.text or "").strip()
    shown = f" The line reads `{code}`." if code else ""
    kind = type(error).__name__.replace("Error", " error").lower()  # syntax / indentation / tab error
    problem = str(error.msg).rstrip(".")
    article = "an" if kind[0] in "aeiou" else "a"
    return ConfigError(
        f"{what} failed: {where} has {article} {kind} at {place}: {problem}.{shown} Python reads the whole file "
        f"before running any of it: fix that line (and check the lines just above it, an unclosed bracket "
        f"or quote often starts there), then run again; python -m py_compile {where} checks the file alone."
    )


def load_module_from_path(path: str, import_dirs: _ImportDirs | None = None):
    """Import an experiment file by path.

    A file inside a package (folders with ``__init__.py``) is imported as
    part of it, by its dotted name with the package root's parent on
    ``sys.path``, so that its relative imports (``from .data import x``) and
    absolute ones (``from examples.utils import x``) work as they do for
    ``python -m``. A file in a plain folder is imported on its own, with its
    folder on ``sys.path``. The file is executed afresh on every call.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(
            f"Experiment file {path} does not exist; pass the path of a .py file defining an rv.ExperimentSet."
        )
    dirs = import_dirs if import_dirs is not None else _ImportDirs()
    try:
        package = package_module_name(p)
        if package is not None:
            return _import_package_file(p, *package, dirs)
        name = f"rv_experiments_{p.stem}"
        spec = importlib.util.spec_from_file_location(name, str(p.resolve()))
        if spec is None or spec.loader is None:
            raise ConfigError(f"Cannot import experiment file {path}.")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        dirs.add(p.resolve().parent)
        try:
            spec.loader.exec_module(module)
        except ImportError as e:
            sys.modules.pop(name, None)  # a half-imported file must not be found next time
            raise _import_failed(f"Importing experiment file {path}", e) from e
        except SyntaxError as e:
            sys.modules.pop(name, None)
            raise _syntax_error(f"Importing experiment file {path}", e) from None
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module
    finally:
        if import_dirs is None:
            dirs.remove_all()


def _import_package_file(p: Path, root: Path, dotted: str, dirs: _ImportDirs):
    top = dotted.split(".")[0]
    loaded = sys.modules.get(top)
    if loaded is not None:
        locations = [str(Path(d).resolve()) for d in getattr(loaded, "__path__", [])]
        if str((root / top).resolve()) not in locations:
            raise ConfigError(
                f"Experiment file {p} belongs to package {top!r} in {root / top}, but another package "
                f"{top!r} is already imported from {', '.join(locations) or getattr(loaded, '__file__', '?')}. "
                f"Rename one of the two packages, or run the file with -e {dotted} from {root}."
            )
    dirs.add(root)
    sys.modules.pop(dotted, None)  # execute the file afresh, like a file in a plain folder
    try:
        return importlib.import_module(dotted)
    except ImportError as e:
        sys.modules.pop(dotted, None)
        raise _import_failed(
            f"Importing experiment file {p} (as module {dotted} of package {top}, from {root})", e
        ) from e
    except SyntaxError as e:
        sys.modules.pop(dotted, None)
        raise _syntax_error(f"Importing experiment file {p}", e) from None


def import_experiment_module(module: str, import_dirs: _ImportDirs | None = None):
    """Import an experiment module by name (``-e MODULE``), with the working directory on ``sys.path``.

    As ``python -m`` does, so ``rv run local -e examples.spacenet.rio`` works from
    the repository root whether ``rv`` was started as a script or as ``python -m rv``.
    A module that cannot be imported is a ConfigError naming it and the
    directories searched.
    """
    dirs = import_dirs if import_dirs is not None else _ImportDirs()
    dirs.add(os.getcwd())
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if isinstance(e, ModuleNotFoundError) and e.name and (module == e.name or module.startswith(e.name + ".")):
            raise ConfigError(
                f"Cannot import the experiment module {module!r}: {e}. Python searched these directories: "
                f"{_searched()}. Check the name, and run rv from the folder that holds "
                f"{module.split('.')[0]}/ (or {module.split('.')[0]}.py), or install its package; "
                f"for a file use -p path/to/experiments.py."
            ) from e
        raise _import_failed(f"Importing experiment module {module!r}", e) from e
    except SyntaxError as e:
        raise _syntax_error(f"Importing experiment module {module!r}", e) from None
    finally:
        if import_dirs is None:
            dirs.remove_all()


def experiment_sets_in(module) -> list[type[ExperimentSet]]:
    sets = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, ExperimentSet)
        and obj is not ExperimentSet
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

    ``path`` is an experiment file (imported as part of its package when it
    is in one, see :func:`load_module_from_path`); ``module`` an importable
    module name, imported with the working directory on ``sys.path``, or
    ``"__main__"`` for the script being run (``rv.main()``). The directories
    added to ``sys.path`` stay there until every method has run. ``methods``
    are fnmatch patterns of method names (without the prefix), ``filters``
    patterns of experiment ids.
    """
    if (path is None) == (module is None):
        raise ConfigError("Name experiments with a .py path (-p/positional) or a module (-e), exactly one of them.")
    import_dirs = _ImportDirs()
    try:
        return _load_experiments(path, module, args, prefix, methods, filters, import_dirs)
    finally:
        import_dirs.remove_all()


def _load_experiments(path, module, args, prefix, methods, filters, import_dirs: _ImportDirs) -> list:
    from rv.config import ConfigBuilder
    from rv.experiment.experiment_config import ExperimentConfig

    if path:
        mod = load_module_from_path(path, import_dirs)
    elif module == "__main__" and "__main__" in sys.modules:
        mod = sys.modules["__main__"]  # the experiment file run as a script, calling rv.main()
    else:
        mod = import_experiment_module(module, import_dirs)
    if path:
        source = path
    elif module == "__main__":
        source = getattr(mod, "__file__", None) or "__main__"
    else:
        source = module
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
            short = name[len(prefix) :]
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
            try:
                result = method(**kwargs)
            except ImportError as e:  # an import inside the method
                raise _import_failed(f"{set_cls.__name__}.{name} in {source}", e) from e
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
