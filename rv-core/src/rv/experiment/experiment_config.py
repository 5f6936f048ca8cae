"""ExperimentConfig: task + backend + dataset + analyzers + evaluators + where outputs go."""

from __future__ import annotations

from typing import Any

import attrs

from rv import keys
from rv.analyzer.analyzer_config import AnalyzerConfig
from rv.backend.backend_config import BackendConfig
from rv.config import Config, ConfigBuilder, field
from rv.errors import ConfigError
from rv.evaluation.evaluator_config import EvaluatorConfig
from rv.experiment.dataset_config import DatasetConfig
from rv.task.task_config import TaskConfig

COMMAND_DIRS = {
    keys.ANALYZE: "analyze",
    keys.CHIP: "chip",
    keys.TRAIN: "train",
    keys.PREDICT: "predict",
    keys.EVAL: "eval",
    keys.BUNDLE: "bundle",
}


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *[p.strip("/") for p in parts]])


@attrs.frozen
class ExperimentConfig(Config):
    """One experiment. ``resolved()`` fills every derived URI and default."""

    id: str = field(doc="experiment id")
    task: TaskConfig = field(doc="the task")
    backend: BackendConfig = field(doc="the backend")
    dataset: DatasetConfig = field(doc="the scenes")
    root_uri: str = field(doc="root of every output: <root>/<command>/<key>/")
    analyzers: tuple[AnalyzerConfig, ...] = field(factory=tuple, doc="run by ANALYZE")
    evaluators: tuple[EvaluatorConfig, ...] = field(factory=tuple, doc="run by EVAL (default: the task's)")
    analyze_key: str | None = field(default=None, doc="ANALYZE key (default: the id)")
    chip_key: str | None = field(default=None, doc="CHIP key (default: the id)")
    train_key: str | None = field(default=None, doc="TRAIN key (default: the id)")
    predict_key: str | None = field(default=None, doc="PREDICT key (default: the id)")
    eval_key: str | None = field(default=None, doc="EVAL key (default: the id)")
    bundle_key: str | None = field(default=None, doc="BUNDLE key (default: the id)")
    analyze_uri: str | None = field(default=None, doc="ANALYZE output (default: <root>/analyze/<key>)")
    chip_uri: str | None = field(default=None, doc="CHIP output (default: <root>/chip/<key>)")
    train_uri: str | None = field(default=None, doc="TRAIN output (default: <root>/train/<key>)")
    predict_uri: str | None = field(default=None, doc="PREDICT output (default: <root>/predict/<key>)")
    eval_uri: str | None = field(default=None, doc="EVAL output (default: <root>/eval/<key>)")
    bundle_uri: str | None = field(default=None, doc="BUNDLE output (default: <root>/bundle/<key>)")

    def validate(self) -> None:
        if not self.id or "/" in self.id:
            raise ConfigError(f"Experiment id {self.id!r} must be non-empty and contain no '/'.")
        if not self.dataset.train_scenes:
            raise ConfigError(
                f"Experiment {self.id!r} has no training scenes: add them with DatasetConfig.builder().with_train_scenes([...])."
            )
        for evaluator in self.evaluators:  # a class map that cannot score the task fails now, not after TRAIN
            evaluator.check_task(self.task)

    # -- resolution -----------------------------------------------------------
    def command_key(self, command: str) -> str:
        return getattr(self, f"{COMMAND_DIRS[command]}_key") or self.id

    def command_uri(self, command: str) -> str:
        explicit = getattr(self, f"{COMMAND_DIRS[command]}_uri")
        return explicit or _join(self.root_uri, COMMAND_DIRS[command], self.command_key(command))

    def stats_uri(self) -> str:
        return _join(self.command_uri(keys.ANALYZE), "stats.json")

    def resolved(self) -> ExperimentConfig:
        """A copy with every key, URI and default filled in (idempotent)."""
        from rv.analyzer.stats_analyzer_config import StatsAnalyzerConfig
        from rv.plugins import get_plugin_manager

        pm = get_plugin_manager()
        uris = {cmd: self.command_uri(cmd) for cmd in COMMAND_DIRS}
        stats_uri = self.stats_uri()
        needs_stats = False

        def fix_raster_source(rs):
            nonlocal needs_stats
            new_transformers = []
            for t in rs.transformers:
                if t.needs_stats():
                    needs_stats = True
                    if getattr(t, "stats_uri", "x") is None:
                        t = attrs.evolve(t, stats_uri=stats_uri)
                new_transformers.append(t)
            return attrs.evolve(rs, transformers=tuple(new_transformers))

        def fix_scene(scene, predicted: bool):
            scene = attrs.evolve(scene, raster_source=fix_raster_source(scene.raster_source))
            if predicted:
                store = scene.label_store
                if store is None:
                    builder = pm.hook.default_label_store(task_type=self.task.key)
                    if builder is None:
                        raise ConfigError(
                            f"No default label store for {self.task.key}: give scene {scene.id!r} a label store."
                        )
                    store = builder.build()
                if store.uri is None:
                    store = attrs.evolve(store, uri=_join(uris[keys.PREDICT], f"{scene.id}{store.extension}"))
                scene = attrs.evolve(scene, label_store=store)
            return scene

        ds = self.dataset
        dataset = attrs.evolve(
            ds,
            train_scenes=tuple(fix_scene(s, False) for s in ds.train_scenes),
            validation_scenes=tuple(fix_scene(s, True) for s in ds.validation_scenes),
            test_scenes=tuple(fix_scene(s, True) for s in ds.test_scenes),
        )
        analyzers = tuple(self.analyzers)
        if needs_stats and not any(isinstance(a, StatsAnalyzerConfig) for a in analyzers):
            analyzers = (*analyzers, StatsAnalyzerConfig())
        evaluators = tuple(self.evaluators)
        if not evaluators and (dataset.validation_scenes or dataset.test_scenes):
            builder = pm.hook.default_evaluator(task_type=self.task.key)
            if builder is not None:
                evaluators = (builder.build(),)
        evaluators = tuple(
            e if e.output_uri else attrs.evolve(e, output_uri=_join(uris[keys.EVAL], "eval.json")) for e in evaluators
        )
        task = self.task
        if task.predict_package_uri is None:
            task = attrs.evolve(task, predict_package_uri=_join(uris[keys.BUNDLE], "model-bundle.zip"))
        backend = attrs.evolve(
            self.backend,
            task=task,
            training_data_uri=self.backend.training_data_uri or uris[keys.CHIP],
            training_output_uri=self.backend.training_output_uri or uris[keys.TRAIN],
        )
        out = attrs.evolve(
            self,
            task=task,
            backend=backend,
            dataset=dataset,
            analyzers=analyzers,
            evaluators=evaluators,
            **{f"{d}_key": self.command_key(c) for c, d in COMMAND_DIRS.items()},
            **{f"{d}_uri": uris[c] for c, d in COMMAND_DIRS.items()},
        )
        return out


class ExperimentConfigBuilder(ConfigBuilder):
    """Builder of :class:`ExperimentConfig`."""

    config_class = ExperimentConfig

    def with_id(self, experiment_id: str) -> ExperimentConfigBuilder:
        return self._with(id=str(experiment_id))

    def with_task(self, task: TaskConfig) -> ExperimentConfigBuilder:
        return self._with(task=task.build() if isinstance(task, ConfigBuilder) else task)

    def with_backend(self, backend: BackendConfig) -> ExperimentConfigBuilder:
        return self._with(backend=backend.build() if isinstance(backend, ConfigBuilder) else backend)

    def with_dataset(self, dataset: DatasetConfig) -> ExperimentConfigBuilder:
        return self._with(dataset=dataset.build() if isinstance(dataset, ConfigBuilder) else dataset)

    def with_root_uri(self, uri: str) -> ExperimentConfigBuilder:
        return self._with(root_uri=str(uri))

    def _as_config(self, group_cls, item):
        if isinstance(item, str):
            item = group_cls.builder(item)
        return item.build() if isinstance(item, ConfigBuilder) else item

    def with_analyzer(self, analyzer) -> ExperimentConfigBuilder:
        """Add an analyzer: a config, a builder or a key (``rv.STATS_ANALYZER``)."""
        return self._with(analyzers=(*self.values.get("analyzers", ()), self._as_config(AnalyzerConfig, analyzer)))

    def with_analyzers(self, analyzers) -> ExperimentConfigBuilder:
        return self._with(analyzers=tuple(self._as_config(AnalyzerConfig, a) for a in analyzers))

    def with_stats_analyzer(self, **options: Any) -> ExperimentConfigBuilder:
        """Add a STATS_ANALYZER (added anyway when a raster source uses the stats transformer)."""
        from rv.analyzer.stats_analyzer_config import StatsAnalyzerConfig

        return self.with_analyzer(StatsAnalyzerConfig(**options))

    def with_evaluator(self, evaluator) -> ExperimentConfigBuilder:
        """Add an evaluator: a config, a builder or a key."""
        return self._with(evaluators=(*self.values.get("evaluators", ()), self._as_config(EvaluatorConfig, evaluator)))

    def with_evaluators(self, evaluators) -> ExperimentConfigBuilder:
        return self._with(evaluators=tuple(self._as_config(EvaluatorConfig, e) for e in evaluators))

    # with_<command>_key / with_<command>_uri
    def with_analyze_key(self, key: str):
        return self._with(analyze_key=key)

    def with_chip_key(self, key: str):
        return self._with(chip_key=key)

    def with_train_key(self, key: str):
        return self._with(train_key=key)

    def with_predict_key(self, key: str):
        return self._with(predict_key=key)

    def with_eval_key(self, key: str):
        return self._with(eval_key=key)

    def with_bundle_key(self, key: str):
        return self._with(bundle_key=key)

    def with_analyze_uri(self, uri: str):
        return self._with(analyze_uri=uri)

    def with_chip_uri(self, uri: str):
        return self._with(chip_uri=uri)

    def with_train_uri(self, uri: str):
        return self._with(train_uri=uri)

    def with_predict_uri(self, uri: str):
        return self._with(predict_uri=uri)

    def with_eval_uri(self, uri: str):
        return self._with(eval_uri=uri)

    def with_bundle_uri(self, uri: str):
        return self._with(bundle_uri=uri)


ExperimentConfig.builder_class = ExperimentConfigBuilder
