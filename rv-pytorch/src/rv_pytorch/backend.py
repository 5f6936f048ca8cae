"""The PyTorch backends at work: TRAIN, PREDICT and BUNDLE for the three tasks.

:class:`PyTorchBackend` does what the tasks share, once:

- **TRAIN** (:meth:`~PyTorchBackend.train`): reads CHIP's output (a remote
  chip directory is downloaded first), chooses the normalisation (uint8
  chips are divided by 255; other dtypes use ANALYZE's means and stds when
  given, else those of the training chips), writes ``model-config.json``,
  builds the network (seeded from ``pretrained_model_uri`` when given),
  and runs :func:`rv_pytorch.train.train` in a local directory. A remote
  train URI is mirrored every ``sync_interval`` seconds and at the end with
  ``model.safetensors`` last (it marks TRAIN finished); an earlier run's checkpoint
  there is downloaded first, so training resumes. With ``do_monitoring``,
  TensorBoard events go to ``<train dir>/tb`` and, when a person runs TRAIN
  at a terminal, ``tensorboard`` serves them meanwhile
  (:mod:`rv_pytorch.monitoring`).
- **PREDICT** (:meth:`~PyTorchBackend.load_model`,
  :meth:`~PyTorchBackend.predict_scene`): rebuilds the network from
  ``model-config.json``, refuses a scene whose bands or dtype do not fit
  it, and slides the task's window over the scene with
  :mod:`rv_pytorch.predict` (windows read in a background thread; memory
  bounded by the batch). Outside a scene's AOI nothing is predicted.
  When TRAIN ran earlier in the same process (the ``inprocess`` runner) and
  its weights file is unchanged, PREDICT takes TRAIN's network instead of
  rebuilding it (:class:`TrainedModelCache`).
- **BUNDLE** (:meth:`~PyTorchBackend.bundle_files`): the weights and
  ``model-config.json``.

What differs per task (network, loss, datasets, how windows become labels)
lives in the three subclasses. torch loads only when a model is trained or
loaded, so BUNDLE and plugin discovery stay light.

One concept, one module (over 500 lines): the backend object the core
calls for TRAIN, PREDICT and BUNDLE; the three task subclasses are short
and differ only where the task does; the loop, windows and models live in
:mod:`rv_pytorch.train`, :mod:`rv_pytorch.predict` and :mod:`rv_pytorch.models`.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, ClassVar

import numpy as np

from rv import file_utils, keys
from rv.backend.backend import Backend
from rv.core.box import Box
from rv.errors import ConfigError, DataError
from rv_pytorch.model_files import (
    MODEL_CONFIG_NAME,
    MODEL_NAME,
    ModelSpec,
    read_state_dict,
    resolve_model,
    transfer_weights,
)

DEBUG_CHIPS_NAME = "debug-chips.png"


def _say(message: str) -> None:
    from rv.command.run_command import launched_rank

    if launched_rank() == 0:  # one voice when several processes train
        print(f"rv: {message}", file=sys.stderr, flush=True)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("rv-pytorch")
    except metadata.PackageNotFoundError:  # a source tree
        return "0.0.0"


def _file_identity(path: str) -> tuple[str, int, int, int, int] | None:
    """What tells one version of a local file from another: real path, inode, size, mtime and ctime (ns)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _train_worker(config_json: str, chip_dir: str, train_uri: str, stats_uri: str | None, tmp_dir: str | None) -> None:
    """One of the processes :meth:`PyTorchBackend._train_in_processes` starts (its launch variables are set)."""
    from rv.serialization import config_from_json

    config = config_from_json(config_json, source="the TRAIN config handed to a training process")
    config.create(config.task, tmp_dir).train(chip_dir, train_uri, stats_uri, tmp_dir)


class TrainedModelCache:
    """The network TRAIN wrote last in this process, handed to a later PREDICT of the same weights file.

    When the commands run in one process (the ``inprocess`` runner), PREDICT
    would otherwise rebuild the network TRAIN has in memory and read its
    weights back from disk. One entry, keyed by the weights file's identity
    (:func:`_file_identity`: a file rewritten or replaced since misses) and
    by the model config (a changed ``model-config.json`` misses): a miss
    loads from disk as always. One entry bounds the memory to one model; in
    the ``local`` runner's subprocesses it is never hit.
    """

    def __init__(self) -> None:
        self._entry: tuple[Any, str, Any] | None = None

    def remember(self, weights_path: str, spec: ModelSpec, model: Any) -> None:
        """Keep ``model``, whose weights ``weights_path`` holds as of now, built from ``spec``."""
        identity = _file_identity(weights_path)
        self._entry = None if identity is None else (identity, spec.to_json(), model)

    def recall(self, weights_path: str, spec: ModelSpec) -> Any:
        """The remembered model if ``weights_path`` is still the file it was saved to and ``spec`` matches; else None."""
        if self._entry is None:
            return None
        identity, spec_json, model = self._entry
        if identity != _file_identity(weights_path) or spec_json != spec.to_json():
            return None
        return model

    def clear(self) -> None:
        self._entry = None


#: the one cache of this process (TRAIN fills it, load_model consults it)
trained_models = TrainedModelCache()


class PyTorchBackend(Backend):
    """Training, prediction and bundle contents shared by the three PyTorch backends.

    Args:
        config: the backend's :class:`rv_pytorch.backend_config.PyTorchBackendConfig`.
        task_config: the task (default: the config's).
        tmp_dir: scratch directory of the command.
    """

    #: the task this backend learns
    task_key: ClassVar[str] = ""

    def __init__(self, config: Any, task_config: Any = None, tmp_dir: str | None = None):
        self.config = config
        self.task_config = task_config if task_config is not None else config.task
        self.tmp_dir = tmp_dir
        self.model: Any = None
        self.spec: ModelSpec | None = None
        self.normalizer: Any = None

    # ------------------------------------------------------------------ per task

    def create_model(self, spec: ModelSpec, pretrained: bool = False):
        """The task's network for ``spec`` (random or timm-hub initialised)."""
        factory, options = self.network(spec)
        return factory(spec.encoder, len(spec.classes), in_channels=spec.num_channels, pretrained=pretrained, **options)

    def network(self, spec: ModelSpec) -> tuple[Callable[..., Any], dict[str, Any]]:
        """The task's model factory of :mod:`rv_pytorch.models` and the keyword arguments of its own
        (from ``spec.model_options`` or the config); :meth:`create_model` adds those every task shares."""
        raise NotImplementedError

    def torch_task(self, spec: ModelSpec):
        """The :class:`rv_pytorch.tasks.TorchTask` (loss and metrics) for ``spec``."""
        raise NotImplementedError

    def adapt_dataset(self, dataset, split: str, spec: ModelSpec):
        """The task's view of a :class:`rv_pytorch.data.ChipDataset` (ignored class, chip sizes)."""
        return dataset

    def predict_windows(self, scene: Any, read_window, extent: tuple[int, int]) -> Any:
        """Predict over the scene (``read_window`` honours its AOI) and write through its label store."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers

    def _ignore_index(self, spec: ModelSpec) -> int | None:
        ignore = self.config.ignore_class_id
        return None if ignore is None else spec.class_ids.index(int(ignore))

    def _class_weights(self) -> list[float] | None:
        weights = self.config.class_weights
        if weights is not None:
            return [float(w) for w in weights]
        return self._balanced_weights

    #: loss weights from the training chips' class counts (class_balance), set by TRAIN
    _balanced_weights: list[float] | None = None

    @property
    def _chip_size(self) -> int:
        return int(self.task_config.chip_size)

    @property
    def _predict_batch_size(self) -> int:
        return int(getattr(self.task_config, "predict_batch_size", 8))

    # ------------------------------------------------------------------ TRAIN

    def train(self, chip_uri: str | None, train_uri: str | None, stats_uri: str | None, tmp_dir: str) -> None:
        """Fit the model on CHIP's output and write it to ``train_uri`` (see the module docstring)."""
        cfg = self.config
        chip_uri = chip_uri or cfg.training_data_uri
        train_uri = train_uri or cfg.training_output_uri
        if not chip_uri or not train_uri:
            raise ConfigError(
                f"{cfg.backend_key} needs a chip directory and a train directory (got {chip_uri!r} and "
                f"{train_uri!r}); an experiment fills them, or use with_training_data_uri / with_training_output_uri."
            )
        from rv_pytorch.backend_config import ALL_GPUS
        from rv_pytorch.distributed import Processes, process_group, resolve_num_processes

        tmp_dir = tmp_dir or self.tmp_dir
        if tmp_dir:
            os.makedirs(tmp_dir, exist_ok=True)
        processes = Processes.from_environment()  # started by torchrun or srun
        if processes is None:
            count = resolve_num_processes(cfg.num_processes, cfg.device)
            if count > 1:
                self._train_in_processes(count, chip_uri, train_uri, stats_uri, tmp_dir)
                return
        elif cfg.num_processes not in (1, ALL_GPUS, processes.world_size):
            _say(
                f"the launcher started {processes.world_size} training processes; num_processes "
                f"{cfg.num_processes} does not apply"
            )
        work = tempfile.mkdtemp(prefix="rv-train-", dir=tmp_dir)
        try:
            with process_group(processes, cfg.device):
                self._train(chip_uri, train_uri, stats_uri, work)
        finally:
            # Downloaded chips and a remote run's local copy; the train URI has everything.
            shutil.rmtree(work, ignore_errors=True)

    def _train_in_processes(
        self, count: int, chip_uri: str, train_uri: str, stats_uri: str | None, tmp_dir: str | None
    ) -> None:
        """TRAIN on ``count`` processes of this machine (:func:`rv_pytorch.distributed.spawn`), each
        running :meth:`train` as under torchrun; the chips are checked (and downloaded) once, here."""
        import attrs

        from rv.chips import read_chip_manifest
        from rv.serialization import config_to_json
        from rv_pytorch.distributed import spawn, wants_cuda
        from rv_pytorch.train_sync import sigterm_as_exit

        work = tempfile.mkdtemp(prefix="rv-train-", dir=tmp_dir)
        try:
            chip_dir = self._local_chip_dir(chip_uri, work)
            self._check_chips(read_chip_manifest(chip_dir), chip_uri)
            how = "GPUs, nccl" if wants_cuda(self.config.device) else "CPU, gloo"
            _say(f"training on {count} processes ({how}); process 0 writes {train_uri}")
            config = attrs.evolve(self.config, task=self.task_config)
            with sigterm_as_exit():  # a cluster's SIGTERM stops the workers too
                spawn(_train_worker, count, (config_to_json(config), chip_dir, train_uri, stats_uri, tmp_dir))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _train(self, chip_uri: str, train_uri: str, stats_uri: str | None, work: str) -> None:
        import torch

        from rv.chips import read_chip_manifest
        from rv_pytorch.data import ChipDataset, balanced_class_weights, class_counts
        from rv_pytorch.distributed import Processes
        from rv_pytorch.monitoring import tensorboard_during_training
        from rv_pytorch.train import TrainOptions, plan_training
        from rv_pytorch.train import train as run_training
        from rv_pytorch.train_sync import TrainDirSync, sigterm_as_exit

        cfg = self.config
        writer = Processes.current().is_writer  # the one process that writes the train directory
        chip_dir = self._local_chip_dir(chip_uri, work)
        manifest = read_chip_manifest(chip_dir)
        self._check_chips(manifest, chip_uri)

        remote = not file_utils.is_local(train_uri)
        train_dir = os.path.join(work, "train") if remote else file_utils.get_local_path(train_uri, work)
        os.makedirs(train_dir, exist_ok=True)
        if remote and not cfg.replace_model and file_utils.exists(file_utils.join(train_uri, "last.pth")):
            _say(f"downloading the checkpoint in {train_uri} to resume from it")
            file_utils.sync_from_dir(train_uri, train_dir)
        if not cfg.replace_model and os.path.exists(os.path.join(train_dir, "last.pth")):
            _say(f"resuming from the checkpoint in {train_uri} (replace_model starts afresh)")

        normalizer, how = self._normalizer(manifest, chip_dir, stats_uri)
        _say(f"{manifest.num_channels}-band {manifest.dtype} chips are normalised with {how}")
        spec = ModelSpec(
            backend=cfg.backend_key,
            task=self.task_key,
            encoder=cfg.encoder,
            classes=[
                {"id": i, "name": n, "color": c}
                for i, n, c in zip(manifest.class_ids, manifest.class_names, manifest.class_colors)
            ],
            num_channels=manifest.num_channels,
            dtype=manifest.dtype,
            normalizer=normalizer.to_dict(),
            chip_size=manifest.chip_size,
            model_options=cfg.model_options(),
            rv_pytorch_version=_version(),
        )
        if writer:
            spec.save(os.path.join(train_dir, MODEL_CONFIG_NAME))

        torch.manual_seed(cfg.seed)  # the initial weights depend on the seed only
        model = self.create_model(spec, pretrained=cfg.pretrained)
        if cfg.pretrained_model_uri:
            self._load_pretrained(model, cfg.pretrained_model_uri, work)

        def dataset(split: str, augment) -> Any:
            chips = ChipDataset(chip_dir, split, normalizer=normalizer, augment=augment, cache=cfg.cache_chips)
            return self.adapt_dataset(chips, split, spec)

        if cfg.class_weights is None and cfg.class_balance > 0:
            counts = class_counts(ChipDataset(chip_dir, "train", normalizer=normalizer))
            self._balanced_weights = balanced_class_weights(counts, cfg.class_balance)
            _say(
                "class weights "
                + ", ".join(f"{name} {w:.2f}" for name, w in zip(spec.class_names, self._balanced_weights))
                + f" from the training chips' class counts (class_balance {cfg.class_balance})"
            )
        task = self.torch_task(spec)
        train_set = dataset("train", cfg.augmentation)
        valid_set = dataset("valid", ())
        if len(valid_set) == 0:
            _say("there are no validation chips: training without validation metrics")
            valid_set = None
        if writer and cfg.debug and len(train_set):
            self._write_debug_chips(train_set, spec, normalizer, os.path.join(train_dir, DEBUG_CHIPS_NAME))

        options = TrainOptions(**cfg.train_options())
        _say(plan_training(options, len(train_set), Processes.current().world_size).describe())
        sync = TrainDirSync(train_dir, train_uri, cfg.sync_interval) if remote and writer else nullcontext()
        monitor = tensorboard_during_training(
            train_dir, cfg.do_monitoring and writer, _say, log_path=os.path.join(work, "tensorboard.log")
        )
        with sigterm_as_exit(), sync, monitor:
            result = run_training(model, task, train_set, valid_set, train_dir, options)
        if not writer:
            return
        final = f"{result.epochs} epoch(s), {result.steps} step(s)"
        if result.final_metrics and task.monitor in result.final_metrics:
            final += f", {task.monitor} {result.final_metrics[task.monitor]:.4f}"
        weights_uri = file_utils.join(train_uri, MODEL_NAME)
        if cfg.model_uri and cfg.model_uri != weights_uri:
            file_utils.upload(result.model_path, cfg.model_uri)
            weights_uri = cfg.model_uri
        if file_utils.is_local(weights_uri):
            # PREDICT in this process (the inprocess runner) takes the network from here.
            trained_models.remember(file_utils.get_local_path(weights_uri, work), spec, model)
        _say(f"trained {final}; model in {cfg.model_output_uri() or train_uri}")

    def _local_chip_dir(self, chip_uri: str, work: str) -> str:
        if file_utils.is_local(chip_uri):
            return file_utils.get_local_path(chip_uri, work)
        local = os.path.join(work, "chips")
        _say(f"downloading the chips in {chip_uri}")
        file_utils.sync_from_dir(chip_uri, local)
        return local

    def _check_chips(self, manifest, chip_uri: str) -> None:
        if manifest.task != self.task_key:
            raise DataError(
                f"The chips in {chip_uri} were made for {manifest.task}, but {self.config.backend_key} learns "
                f"{self.task_key}. Point the backend at chips of a {self.task_key} task."
            )
        if self.task_config is not None:
            wanted = sorted(c.id for c in self.task_config.classes)
            if sorted(manifest.class_ids) != wanted:
                raise DataError(
                    f"The chips in {chip_uri} have the class ids {list(manifest.class_ids)}, but the task has "
                    f"{wanted}. The chips are stale: rerun CHIP (rv run ... chip --rerun)."
                )

    def _normalizer(self, manifest, chip_dir: str, stats_uri: str | None):
        from rv.analyzer.stats_analyzer import RasterStats
        from rv.chips import chip_paths
        from rv_pytorch.data import Normalizer, compute_channel_stats

        if np.dtype(manifest.dtype) == np.uint8:
            return Normalizer.for_dtype(manifest.dtype, manifest.num_channels), "pixel / 255"
        if stats_uri and file_utils.exists(stats_uri):
            stats = RasterStats.load(stats_uri)
            if stats.num_channels == manifest.num_channels:
                return Normalizer(stats.means, np.maximum(stats.stds, 1e-6)), f"the means and stds of {stats_uri}"
        mean, std = compute_channel_stats(chip_paths(chip_dir, "train"))
        return Normalizer(mean, std), "the means and stds of the training chips"

    def _load_pretrained(self, model, uri: str, work: str) -> None:
        files = resolve_model(uri, work)
        state = read_state_dict(files.weights_path)
        loaded, total = transfer_weights(model, state, self.task_key)
        if loaded == 0:
            raise ConfigError(
                f"None of the weights in {uri} fit the {self.config.encoder} network of {self.config.backend_key}. "
                "pretrained_model_uri must be an rv model (weights file, train directory or bundle) or timm "
                f"weights of the same encoder ({self.config.encoder})."
            )
        _say(f"fine-tuning from {uri}: {loaded} of {total} weight tensors loaded")

    def _write_debug_chips(self, dataset, spec: ModelSpec, normalizer, path: str) -> None:
        from rv.core.class_map import ClassItem, ClassMap
        from rv_pytorch.debug_chips import write_debug_chips

        class_map = ClassMap([ClassItem(c["id"], c["name"], c.get("color")) for c in spec.classes])
        colors = class_map.colors_rgb()
        write_debug_chips(
            dataset,
            path,
            spec.class_names,
            [colors[i] for i in spec.class_ids],
            normalizer,
            uint8=np.dtype(spec.dtype) == np.uint8,
        )
        _say(f"debug chips drawn in {path}")

    # ------------------------------------------------------------------ PREDICT

    def load_model(self, model_uri: str, tmp_dir: str) -> None:
        """Load a model: a weights file, a train directory, an unpacked bundle or a model-bundle.zip."""
        from rv_pytorch.data import Normalizer
        from rv_pytorch.train import load_weights, place_model

        files = resolve_model(model_uri, tmp_dir, fallback_dir=self.config.training_output_uri)
        if files.spec_path is None:
            raise DataError(
                f"The model {model_uri} has no {MODEL_CONFIG_NAME} beside it (nor in the train directory "
                f"{self.config.training_output_uri}); TRAIN writes it with the weights. Load a train "
                "directory, a bundle, or a weights file next to its model config."
            )
        spec = ModelSpec.load(files.spec_path)
        if spec.task != self.task_key:
            raise DataError(
                f"The model {model_uri} was trained for {spec.task} ({spec.backend}), but this backend "
                f"predicts {self.task_key}."
            )
        model = trained_models.recall(files.weights_path, spec)
        if model is not None:
            _say(f"using the network TRAIN left in this process: {files.weights_path} is unchanged since")
        else:
            model = self.create_model(spec, pretrained=False)
            try:
                load_weights(model, files.weights_path)
            except RuntimeError as e:
                raise DataError(
                    f"The weights {files.weights_path} do not fit the network described by {files.spec_path} "
                    f"({spec.encoder}, {spec.model_options}): {str(e)[:300]}. The two files come from different "
                    "runs."
                ) from e
        place_model(model, "cpu").eval()  # PREDICT moves it to its device
        self.model, self.spec = model, spec
        self.normalizer = Normalizer.from_dict(spec.normalizer)

    def predict_scene(self, scene: Any, tmp_dir: str) -> Any:
        """Predict over a whole scene window by window; write through ``scene.label_store``.

        Returns the labels (None for segmentation streamed to its store).
        """
        if self.model is None:
            raise ConfigError("predict_scene was called before load_model: load a trained model first.")
        source = scene.raster_source
        self._check_input(source, scene)
        extent = source.extent
        return self.predict_windows(scene, self._window_reader(scene), (int(extent.height), int(extent.width)))

    def _check_input(self, source, scene) -> None:
        spec = self.spec
        if source.num_channels != spec.num_channels:
            raise DataError(
                f"Scene {scene.id!r} ({source.name}) gives {source.num_channels} channel(s) (bands "
                f"{source.channel_order} of a {source.num_bands}-band raster), but the model takes "
                f"{spec.num_channels} {spec.dtype} channel(s). Set the scene's channel_order to the bands the "
                "model was trained on."
            )
        if np.dtype(source.dtype) != np.dtype(spec.dtype):
            raise DataError(
                f"Scene {scene.id!r} ({source.name}) gives {np.dtype(source.dtype).name} pixels, but the model "
                f"was trained on {spec.dtype} chips. Use the raster transformers of training (the stats "
                "transformer turns any dtype into uint8) or imagery of the training dtype."
            )

    def _window_reader(self, scene):
        """``read_window(window) -> (chip, mask)``; windows that miss the scene's AOI read as nodata."""
        source = scene.raster_source
        channels, dtype = source.num_channels, np.dtype(source.dtype)
        has_aoi = scene.aoi_polygons is not None

        def read_window(window):
            box = Box(*window)
            if has_aoi and not scene.window_in_aoi(box, mode="intersects"):
                h, w = int(box.height), int(box.width)
                return np.zeros((h, w, channels), dtype), np.ones((h, w), bool)
            return source.get_chip_with_mask(box)

        return read_window

    def _predict_kwargs(self) -> dict[str, Any]:
        return {
            "chip_size": self._chip_size,
            "normalizer": self.normalizer,
            "batch_size": self._predict_batch_size,
            "class_ids": self.spec.class_ids,
            "device": self.config.device,
        }

    # ------------------------------------------------------------------ BUNDLE

    def bundle_files(self, train_uri: str) -> dict[str, str]:
        """The weights and ``model-config.json``."""
        weights = self.config.model_uri or file_utils.join(train_uri, MODEL_NAME)
        return {MODEL_NAME: weights, MODEL_CONFIG_NAME: file_utils.join(train_uri, MODEL_CONFIG_NAME)}


class PyTorchSemanticSegmentation(PyTorchBackend):
    """PYTORCH_SEMANTIC_SEGMENTATION: class probabilities averaged over overlapping windows,
    streamed to the raster label store."""

    task_key = keys.SEMANTIC_SEGMENTATION

    def network(self, spec: ModelSpec):
        from rv_pytorch.models import create_segmentation_model

        options = spec.model_options
        return create_segmentation_model, {
            "decoder_channels": int(options.get("decoder_channels", 128)),
            "fine": bool(options.get("fine", False)),
        }

    def torch_task(self, spec: ModelSpec):
        from rv_pytorch.tasks import SemanticSegmentationTask

        return SemanticSegmentationTask(spec.class_names, self._class_weights(), loss=self.config.loss)

    def adapt_dataset(self, dataset, split: str, spec: ModelSpec):
        from rv_pytorch.chip_adapters import IgnoredClassChips

        index = self._ignore_index(spec)
        return dataset if index is None else IgnoredClassChips(dataset, index)

    def predict_windows(self, scene, read_window, extent):
        from rv.labels import SemanticSegmentationLabels
        from rv.task.semantic_segmentation_config import default_predict_stride
        from rv_pytorch.predict import predict_segmentation

        store = scene.label_store
        stride = getattr(self.task_config.predict_options, "stride", None) or default_predict_stride(self._chip_size)
        with_scores = bool(getattr(store, "write_scores", False))
        has_aoi = scene.aoi_polygons is not None

        def restricted(window, class_arr, scores):
            box = Box(*window)
            if scores is not None:
                scores = np.moveaxis(scores, 0, -1)  # (K, h, w) -> the store's (h, w, K)
            if has_aoi:
                outside = ~scene.aoi_mask(box)
                if outside.any():
                    class_arr = class_arr.copy()
                    class_arr[outside] = keys.IGNORE_CLASS_ID
                    if scores is not None:
                        scores = scores.copy()
                        scores[outside] = np.nan
            return box, class_arr, scores

        def run(write) -> None:
            predict_segmentation(
                self.model,
                read_window,
                extent,
                lambda w, c, s: write(*restricted(w, c, s)),
                stride=stride,
                scores=with_scores,
                tta=str(self.spec.model_options.get("tta", "none")),
                **self._predict_kwargs(),
            )

        if store is None:
            labels = SemanticSegmentationLabels()
            run(labels.add_window)
            return labels
        with store.open_writer() as writer:
            run(writer.write)
        return None


class PyTorchObjectDetection(PyTorchBackend):
    """PYTORCH_OBJECT_DETECTION: boxes of overlapping windows merged with class-aware NMS."""

    task_key = keys.OBJECT_DETECTION

    def network(self, spec: ModelSpec):
        from rv_pytorch.models import create_detection_model

        options = spec.model_options
        return create_detection_model, {
            "architecture": options.get("architecture", "fcos"),
            "fpn_channels": int(options.get("fpn_channels", 128)),
            "min_stride": int(options.get("min_stride", 8)),
            "max_detections": int(options.get("max_detections", 300)),
        }

    def torch_task(self, spec: ModelSpec):
        from rv_pytorch.tasks import ObjectDetectionTask

        return ObjectDetectionTask(spec.class_names)

    def adapt_dataset(self, dataset, split: str, spec: ModelSpec):
        from rv_pytorch.chip_adapters import FixedSizeChips, IgnoredClassChips

        # The 'label' and 'image' window methods write chips of any size; a batch needs one.
        dataset = FixedSizeChips(dataset, spec.chip_size, random_crop=split == "train")
        index = self._ignore_index(spec)
        return dataset if index is None else IgnoredClassChips(dataset, index)

    def predict_windows(self, scene, read_window, extent):
        from rv.labels import ObjectDetectionLabels
        from rv_pytorch.predict import predict_object_detection

        options = self.task_config.predict_options
        stride = options.stride or max(self._chip_size // 2, 1)
        # The detector's own per-window filtering must not be stricter than the task's.
        self.model.set_thresholds(score_thresh=options.score_thresh, nms_thresh=options.merge_thresh)
        found = predict_object_detection(
            self.model,
            read_window,
            extent,
            stride=stride,
            score_thresh=options.score_thresh,
            merge_thresh=options.merge_thresh,
            **self._predict_kwargs(),
        )
        labels = ObjectDetectionLabels(found["boxes"], found["class_ids"], found["scores"])
        if scene.aoi_polygons is not None:
            labels = labels.filter_by_aoi(scene.aoi_polygons, mode="center")
        if scene.label_store is not None:
            scene.label_store.save(labels)
        return labels


class PyTorchChipClassification(PyTorchBackend):
    """PYTORCH_CHIP_CLASSIFICATION: one class and its scores per chip-size cell."""

    task_key = keys.CHIP_CLASSIFICATION

    def network(self, spec: ModelSpec):
        from rv_pytorch.models import create_classification_model

        return create_classification_model, {"drop_rate": float(self.config.drop_rate)}

    def torch_task(self, spec: ModelSpec):
        from rv_pytorch.tasks import ChipClassificationTask

        return ChipClassificationTask(
            spec.class_names, self._class_weights(), label_smoothing=self.config.label_smoothing
        )

    def adapt_dataset(self, dataset, split: str, spec: ModelSpec):
        from rv_pytorch.chip_adapters import chips_without_class

        index = self._ignore_index(spec)
        return dataset if index is None else chips_without_class(dataset, index)

    def predict_windows(self, scene, read_window, extent):
        from rv.labels import ChipClassificationLabels
        from rv_pytorch.predict import predict_chip_classification

        size = self._chip_size
        # Cells on the grid of the label sources: from the origin, the last ones
        # sticking out past the edge (read as padded nodata), not shifted inwards.
        grid = (math.ceil(extent[0] / size) * size, math.ceil(extent[1] / size) * size)
        found = predict_chip_classification(self.model, read_window, grid, stride=size, **self._predict_kwargs())
        labels = ChipClassificationLabels(found["windows"], found["class_ids"], found["scores"])
        if scene.label_store is not None:
            scene.label_store.save(labels)
        return labels


_BACKENDS: dict[str, type[PyTorchBackend]] = {
    keys.PYTORCH_SEMANTIC_SEGMENTATION: PyTorchSemanticSegmentation,
    keys.PYTORCH_OBJECT_DETECTION: PyTorchObjectDetection,
    keys.PYTORCH_CHIP_CLASSIFICATION: PyTorchChipClassification,
}


def backend_class_for(backend_key: str) -> type[PyTorchBackend]:
    """The backend entity class of a PyTorch backend key."""
    try:
        return _BACKENDS[backend_key]
    except KeyError:
        raise ConfigError(
            f"No PyTorch backend is registered as {backend_key!r}; use one of {sorted(_BACKENDS)}."
        ) from None
