"""rv: deep learning on satellite, aerial and drone imagery.

The core SDK: keys, builders, experiments, the plugin contract. Everything
concrete comes from plugins found through the ``rv.plugins`` entry point
group; importing ``rv`` never imports a plugin package.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from rv.keys import *  # noqa: F401,F403  (key constants)
from rv.hookspecs import hookimpl
from rv.errors import ConfigError, DataError, FileSystemError, PluginError, RunnerError, RVError
from rv.config import Config, ConfigBuilder
from rv.task.task_config import TaskConfig
from rv.backend.backend_config import BackendConfig
from rv.data.raster_source.raster_source_config import RasterSourceConfig
from rv.data.raster_transformer.raster_transformer_config import RasterTransformerConfig
from rv.data.label_source.label_source_config import LabelSourceConfig
from rv.data.label_store.label_store_config import LabelStoreConfig
from rv.analyzer.analyzer_config import AnalyzerConfig
from rv.augmentor.augmentor_config import AugmentorConfig
from rv.evaluation.evaluator_config import EvaluatorConfig
from rv.experiment.scene_config import SceneConfig
from rv.experiment.dataset_config import DatasetConfig
from rv.experiment.experiment_config import ExperimentConfig
from rv.experiment.experiment_set import ExperimentSet

try:
    __version__ = _metadata.version("rv-core")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

# Raster Vision 0.8 group names, for the legacy plugin registry
TASK = "TASK"
BACKEND = "BACKEND"
RASTER_SOURCE = "RASTER_SOURCE"
RASTER_TRANSFORMER = "RASTER_TRANSFORMER"
LABEL_SOURCE = "LABEL_SOURCE"
LABEL_STORE = "LABEL_STORE"
ANALYZER = "ANALYZER"
AUGMENTOR = "AUGMENTOR"
EVALUATOR = "EVALUATOR"

# Names later Raster Vision releases gave to rv's GEOTIFF_SOURCE and
# GEOJSON_SOURCE: aliases (rv.keys.KEY_ALIASES), so a config built through one
# records the key it names.
RASTERIO_SOURCE = "RASTERIO_SOURCE"
RASTERIZED_SOURCE = "RASTERIZED_SOURCE"


def main(argv: list[str] | None = None) -> int:
    """Run the ``rv`` command on the experiment file being run: ``if __name__ == "__main__": rv.main()``.

    ``python experiment.py run local -a root_uri out`` is ``rv run local
    experiment.py -a root_uri out``, and ``python experiment.py ls`` lists its
    experiments: ``run`` and ``ls`` given no ``-p``/``-e`` take the experiment
    sets of ``__main__``, as in Raster Vision. Returns 0 on success; a failure
    exits the process with the command's exit code. The ``rv`` command is
    found through its entry point (rv never imports the CLI package).
    """
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    eps = [ep for ep in _metadata.entry_points(group="console_scripts") if ep.name == "rv"]
    if not eps:
        raise SystemExit("rv: the rv command line is not installed: pip install rv-cli")
    code = eps[0].load()(argv)
    if code:
        raise SystemExit(code)
    return 0


def __getattr__(name: str):
    # Heavy or plugin-provided objects are resolved on first use.
    if name == "Predictor":
        from rv.predictor import Predictor

        return Predictor
    if name == "run":
        from rv.running import run

        return run
    if name == "plot":  # the figures module: matplotlib is imported by its functions only
        import rv.plot

        return rv.plot
    from rv.keys import REPLACED_BACKENDS, REPLACED_MODEL_DEFAULTS

    # An experiment written for Raster Vision 0.8: say what replaces its TensorFlow names.
    if name in REPLACED_BACKENDS:
        raise AttributeError(
            f"rv.{name} is a TensorFlow backend of Raster Vision, which rv replaces with a PyTorch one: use "
            f"rv.BackendConfig.builder(rv.{REPLACED_BACKENDS[name]}) (see 'Coming from Raster Vision' in the "
            f"documentation)."
        )
    if name in REPLACED_MODEL_DEFAULTS:
        raise AttributeError(
            f"rv.{name} is a model default of Raster Vision's TensorFlow backends; rv's PyTorch backends have "
            f"rv.RESNET18, rv.RESNET50, rv.EFFICIENTNET_B0 and rv.MOBILENETV3_LARGE. The closest: "
            f".with_model_defaults(rv.{REPLACED_MODEL_DEFAULTS[name]}) (see 'Coming from Raster Vision' in the "
            f"documentation)."
        )
    raise AttributeError(f"module 'rv' has no attribute {name!r}")
