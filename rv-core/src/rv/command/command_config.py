"""Command configs: what each command reads and writes.

A command config declares its input and output URIs; the graph is built from
them (X → Y when Y reads what X writes). It is written to
``<root>/<command>/<key>/command-config.json`` and run through
``rv run_command <uri>`` — the same path locally and on a cluster.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

import attrs

from rv import keys
from rv.analyzer.analyzer_config import AnalyzerConfig
from rv.augmentor.augmentor_config import AugmentorConfig
from rv.backend.backend_config import BackendConfig
from rv.config import Config, field
from rv.evaluation.evaluator_config import EvaluatorConfig
from rv.experiment.scene_config import SceneConfig
from rv.task.task_config import TaskConfig

STAMP_NAME = "command-stamp.json"
CONFIG_NAME = "command-config.json"


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *[p.strip("/") for p in parts]])


@attrs.frozen
class CommandConfig(Config):
    """Base of the six command configs."""

    command_type: ClassVar[str] = ""

    key: str = field(doc="command key (several experiments may share one)")
    command_uri: str = field(doc="the command's directory: <root>/<command>/<key>")
    experiment_id: str = field(default="", eq=False, doc="experiment that produced it (not part of identity)")
    part: int | None = field(
        default=None, doc="index of this part of a split command (rv run --splits), None for a whole command"
    )
    parts: int = field(
        default=1, doc="number of parts of a split command: on a part, how many; on a merge, how many it merges"
    )

    @property
    def display_name(self) -> str:
        """``CHIP key``, or ``CHIP key (part 1/2)`` for a part of a split command."""
        name = f"{self.command_type} {self.key}"
        return name if self.part is None else f"{name} (part {self.part + 1}/{self.parts})"

    @property
    def output_dir(self) -> str:
        """The command's directory; for a part of a split command, that of the whole command."""
        if self.part is None:
            return self.command_uri
        from rv.command.split import whole_command_uri

        return whole_command_uri(self.command_uri)

    def inputs(self) -> list[str]:
        """URIs this command reads."""
        return []

    def outputs(self) -> list[str]:
        """URIs this command writes; all exist when it has finished."""
        return []

    @property
    def config_uri(self) -> str:
        return _join(self.command_uri, CONFIG_NAME)

    @property
    def stamp_uri(self) -> str:
        return _join(self.command_uri, STAMP_NAME)

    def identity(self) -> tuple:
        """Equal commands (type, inputs, outputs) run once across experiments."""
        return (self.command_type, tuple(sorted(self.inputs())), tuple(sorted(self.outputs())))

    def config_hash(self) -> str:
        """Hash of everything that decides this command's outputs."""
        from rv.serialization import structure, unstructure

        # Normalised through one structure/unstructure round trip: a config built in Python
        # (an int given to a float field) and its reload from command-config.json hash alike.
        data = unstructure(structure(unstructure(self), type(self)))
        data.pop("experiment_id", None)
        if self.part is None:
            # A whole command and the merge of its parts make the same outputs: one hash, so
            # a split run's outputs count as an unsplit run's and back.
            data.pop("part", None)
            data.pop("parts", None)
        text = json.dumps(data, sort_keys=True)
        return hashlib.sha256(f"{self.command_type}:{text}".encode()).hexdigest()

    def run(self, tmp_dir: str) -> None:
        """Do the work: call the implementation registered for this command type.

        Implementations come from plugins (``register_command_implementations``);
        rv-core's built-in plugin registers the six commands, and another
        plugin may replace any of them (see :func:`command_implementation`).
        """
        command_implementation(self.command_type)(self, tmp_dir)

    def summary(self) -> dict[str, Any]:
        """Key fields shown by ``rv run -n -v``."""
        return {"key": self.key, "inputs": self.inputs(), "outputs": self.outputs()}


def command_implementation(command_type: str, registry=None):
    """The callable ``(command_config, tmp_dir) -> None`` registered for ``command_type``.

    A lazy ``"module:function"`` registration is imported here. An unknown
    command type is a ConfigError saying which commands have an
    implementation and how a plugin provides one.
    """
    from rv.registry import get_registry, resolve_implementation

    registry = registry or get_registry()
    reg = registry.get_registration("command_implementations", command_type)
    return resolve_implementation(reg.value, f"{command_type} implementation of plugin {reg.plugin!r}")


def _scene_inputs(scenes, with_labels=True) -> list[str]:
    out: list[str] = []
    for s in scenes:
        for u in s.input_uris(with_labels=with_labels):
            if u not in out:
                out.append(u)
    return out


def _stats_inputs(scenes) -> list[str]:
    out: list[str] = []
    for s in scenes:
        for t in s.raster_source.transformers:
            uri = getattr(t, "stats_uri", None)
            if t.needs_stats() and uri and uri not in out:
                out.append(uri)
    return out


@attrs.frozen
class AnalyzeCommandConfig(CommandConfig):
    """ANALYZE: stream over the training and validation rasters; write stats.json."""

    command_type: ClassVar[str] = keys.ANALYZE

    analyzers: tuple[AnalyzerConfig, ...] = field(factory=tuple, doc="analyzers to run")
    scenes: tuple[SceneConfig, ...] = field(factory=tuple, doc="scenes analyzed")

    def inputs(self) -> list[str]:
        return _scene_inputs(self.scenes, with_labels=False)

    def outputs(self) -> list[str]:
        if self.part is not None:  # each analyzer's partial result
            return [_join(self.command_uri, f"analyzer-{k}.npz") for k in range(len(self.analyzers))]
        return [_join(self.command_uri, n) for a in self.analyzers for n in a.output_names()]


@attrs.frozen
class ChipCommandConfig(CommandConfig):
    """CHIP: read windows, attach labels, write training chips."""

    command_type: ClassVar[str] = keys.CHIP

    task: TaskConfig | None = field(default=None, doc="the task")
    train_scenes: tuple[SceneConfig, ...] = field(factory=tuple, doc="training scenes")
    validation_scenes: tuple[SceneConfig, ...] = field(factory=tuple, doc="validation scenes")
    augmentors: tuple[AugmentorConfig, ...] = field(factory=tuple, doc="augmentors")

    def inputs(self) -> list[str]:
        scenes = self.train_scenes + self.validation_scenes
        return _scene_inputs(scenes) + _stats_inputs(scenes)

    def outputs(self) -> list[str]:
        if self.part is not None:  # a part's chips, listed by its part.json (written last)
            return [_join(self.command_uri, "part.json")]
        return [_join(self.command_uri, "chips.json")]


@attrs.frozen
class TrainCommandConfig(CommandConfig):
    """TRAIN: fit the backend's model on CHIP's output."""

    command_type: ClassVar[str] = keys.TRAIN

    task: TaskConfig | None = field(default=None, doc="the task")
    backend: BackendConfig | None = field(default=None, doc="the backend")
    stats_uri: str | None = field(default=None, doc="stats.json when the scenes use the stats transformer")

    def inputs(self) -> list[str]:
        out = [_join(self.backend.training_data_uri, "chips.json")]
        if self.backend.pretrained_model_uri:
            out.append(self.backend.pretrained_model_uri)
        return out

    def outputs(self) -> list[str]:
        return [self.backend.model_output_uri()]


@attrs.frozen
class PredictCommandConfig(CommandConfig):
    """PREDICT: slide a window over each scene and write georeferenced labels."""

    command_type: ClassVar[str] = keys.PREDICT

    task: TaskConfig | None = field(default=None, doc="the task")
    backend: BackendConfig | None = field(default=None, doc="the backend")
    scenes: tuple[SceneConfig, ...] = field(factory=tuple, doc="scenes to predict")

    def inputs(self) -> list[str]:
        scenes = self.part_scenes()
        return [self.backend.model_output_uri()] + _scene_inputs(scenes, with_labels=False) + _stats_inputs(scenes)

    def outputs(self) -> list[str]:
        return [u for s in self.part_scenes() for u in s.label_store.output_uris()]

    def part_scenes(self) -> tuple[SceneConfig, ...]:
        """The scenes this command predicts: all of them, or a part's share of a split PREDICT."""
        if self.part is None:
            return self.scenes
        from rv.command.split import share

        return tuple(self.scenes[i] for i in share(len(self.scenes), self.part, self.parts))


@attrs.frozen
class EvalCommandConfig(CommandConfig):
    """EVAL: compare predictions with ground truth; write eval.json and a confusion-matrix PNG."""

    command_type: ClassVar[str] = keys.EVAL

    task: TaskConfig | None = field(default=None, doc="the task")
    evaluators: tuple[EvaluatorConfig, ...] = field(factory=tuple, doc="evaluators")
    scenes: tuple[SceneConfig, ...] = field(factory=tuple, doc="scenes evaluated")

    def inputs(self) -> list[str]:
        preds = [u for s in self.scenes for u in s.label_store.output_uris()]
        labels = [u for s in self.scenes if s.label_source is not None for u in s.label_source.input_uris()]
        return preds + labels + [a for s in self.scenes for a in s.aoi_uris]

    def outputs(self) -> list[str]:
        return [e.output_uri for e in self.evaluators]


@attrs.frozen
class BundleCommandConfig(CommandConfig):
    """BUNDLE: zip the model, the configs prediction needs and the stats."""

    command_type: ClassVar[str] = keys.BUNDLE

    task: TaskConfig | None = field(default=None, doc="the task")
    backend: BackendConfig | None = field(default=None, doc="the backend")
    scene: SceneConfig | None = field(default=None, doc="a template scene (raster source options, transformers)")
    stats_uri: str | None = field(default=None, doc="stats.json when the scenes use the stats transformer")

    def inputs(self) -> list[str]:
        out = [self.backend.model_output_uri()]
        if self.stats_uri:
            out.append(self.stats_uri)
        return out

    def outputs(self) -> list[str]:
        return [self.task.predict_package_uri]


COMMAND_CONFIG_CLASSES = {
    keys.ANALYZE: AnalyzeCommandConfig,
    keys.CHIP: ChipCommandConfig,
    keys.TRAIN: TrainCommandConfig,
    keys.PREDICT: PredictCommandConfig,
    keys.EVAL: EvalCommandConfig,
    keys.BUNDLE: BundleCommandConfig,
}


def _task_for(command: str, task: TaskConfig) -> TaskConfig:
    """The task as ``command`` sees it: only what decides that command's outputs.

    A command's config is hashed into its stamp and compared across
    experiments, so it must not carry settings of other commands: the bundle
    URI (set per experiment by ``resolved()``) belongs to BUNDLE alone, and
    the prediction options cannot change chips or a trained model. Without
    this, two experiments sharing a CHIP key would look configured
    differently, and changing a prediction option would retrain.
    """
    if command == keys.BUNDLE:
        return task
    changes: dict[str, Any] = {"predict_package_uri": None}
    if command in (keys.CHIP, keys.TRAIN):
        for f in attrs.fields(type(task)):
            if f.name in ("predict_options", "predict_batch_size", "predict_debug_uri"):
                changes[f.name] = f.default.factory() if isinstance(f.default, attrs.Factory) else f.default  # type: ignore[arg-type]  # attrs.Factory is a class
    return attrs.evolve(task, **changes)


def _backend_for(command: str, backend: BackendConfig) -> BackendConfig:
    if backend.task is None:
        return backend
    return attrs.evolve(backend, task=_task_for(command, backend.task))


def _scenes_for(command: str, scenes) -> tuple[SceneConfig, ...]:
    """Scenes without the parts ``command`` neither reads nor writes (see :func:`_task_for`).

    ANALYZE reads the imagery only; CHIP does not write predictions, so the
    label store (whose URI is per experiment) is left out.
    """
    if command == keys.ANALYZE:
        return tuple(attrs.evolve(s, label_source=None, label_store=None) for s in scenes)
    if command == keys.CHIP:
        return tuple(attrs.evolve(s, label_store=None) for s in scenes)
    return tuple(scenes)


def commands_for_experiment(experiment, commands: list[str] | None = None) -> list[CommandConfig]:
    """The command configs of one (resolved) experiment, in pipeline order.

    ``commands`` (names, any case) limits the list; an unknown name is a
    ConfigError.
    """
    from rv.errors import ConfigError

    e = experiment.resolved()
    ds = e.dataset
    unknown = [c for c in commands or [] if c.upper() not in keys.ALL_COMMANDS]
    if unknown:
        raise ConfigError(f"Unknown command(s) {', '.join(unknown)}: use {', '.join(keys.ALL_COMMANDS)}.")
    wanted = [c.upper() for c in commands] if commands else list(keys.ALL_COMMANDS)
    A, C, T, P, E = keys.ANALYZE, keys.CHIP, keys.TRAIN, keys.PREDICT, keys.EVAL
    # BUNDLE ships ANALYZE's statistics when a transformer needs them; TRAIN also takes them
    # when the experiment only computes them (a backend normalises non-uint8 chips with them
    # and records the figures in the model's own config).
    needs_stats = any(t.needs_stats() for s in ds.all_scenes() for t in s.raster_source.transformers)
    computes_stats = any("stats.json" in a.output_names() for a in e.analyzers or ())
    stats_uri = e.stats_uri() if needs_stats else None
    train_stats_uri = e.stats_uri() if needs_stats or computes_stats else None
    out: list[CommandConfig] = []
    common = lambda cmd: {"key": e.command_key(cmd), "command_uri": e.command_uri(cmd), "experiment_id": e.id}  # noqa: E731
    if A in wanted and e.analyzers:
        out.append(
            AnalyzeCommandConfig(
                **common(A), analyzers=e.analyzers, scenes=_scenes_for(A, ds.train_scenes + ds.validation_scenes)
            )
        )
    if C in wanted:
        out.append(
            ChipCommandConfig(
                **common(C),
                task=_task_for(C, e.task),
                train_scenes=_scenes_for(C, ds.train_scenes),
                validation_scenes=_scenes_for(C, ds.validation_scenes),
                augmentors=ds.augmentors,
            )
        )
    if T in wanted:
        out.append(
            TrainCommandConfig(
                **common(T), task=_task_for(T, e.task), backend=_backend_for(T, e.backend), stats_uri=train_stats_uri
            )
        )
    predicted = ds.validation_scenes + ds.test_scenes
    if P in wanted and predicted:
        out.append(
            PredictCommandConfig(
                **common(P), task=_task_for(P, e.task), backend=_backend_for(P, e.backend), scenes=predicted
            )
        )
    if E in wanted and predicted and e.evaluators:
        out.append(EvalCommandConfig(**common(E), task=_task_for(E, e.task), evaluators=e.evaluators, scenes=predicted))
    if keys.BUNDLE in wanted:
        # The bundle keeps only what predicting needs: the raster source and its transformers, and
        # the label store of the predicted scenes without its URI (so a bundle writes what PREDICT
        # writes: polygons, scores, RGB). Ground truth and AOIs would make loading it need their plugins.
        store = next((s.label_store for s in predicted + ds.train_scenes if s.label_store is not None), None)
        template = attrs.evolve(
            (ds.validation_scenes + ds.train_scenes)[0],
            label_source=None,
            aoi_uris=(),
            label_store=None if store is None else attrs.evolve(store, uri=None),
        )
        out.append(
            BundleCommandConfig(
                **common(keys.BUNDLE), task=e.task, backend=e.backend, scene=template, stats_uri=stats_uri
            )
        )
    return out
