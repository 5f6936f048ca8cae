"""What a trained model is on disk: weights plus ``model-config.json``, and how to find and load them.

TRAIN writes two files into the train directory and BUNDLE zips both:

- ``model.safetensors``: the weights (a state dict as safetensors: tensors
  only, nothing that runs when read);
- ``model-config.json``: everything needed to rebuild the network and feed it
  (:class:`ModelSpec`): backend and task, encoder and architecture options,
  classes in model-index order, input band count and dtype, the normaliser,
  the chip size.

A model is named by a URI that is a weights file, a train directory, an
unpacked bundle directory or a ``model-bundle.zip`` (:func:`resolve_model`).
Weights from another run can seed a new model (fine-tuning) even when the
task or the band count differ: :func:`transfer_weights` loads every tensor
that fits, matching encoder tensors across the three tasks' networks.

No code runs from a weights file: safetensors are read as they are, and any
other torch file only through ``torch.load(weights_only=True)`` (tensors and
plain containers), with no fallback. A file that needs unpickling Python
objects is refused with the way to convert it (:mod:`rv_pytorch.convert_weights`),
which its owner runs deliberately on a file they trust.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from rv import file_utils
from rv.errors import DataError
from rv_pytorch.backend_config import PyTorchBackendConfig  # light: attrs configs only

MODEL_NAME = PyTorchBackendConfig.model_file_name  # "model.safetensors"
#: what rv wrote before safetensors (bundle formats 1 and 2): a state dict loaded with weights_only=True
LEGACY_MODEL_NAME = "model.pth"
MODEL_CONFIG_NAME = "model-config.json"
MODEL_CONFIG_FORMAT_VERSION = 1

#: where each network keeps its timm encoder (prefix of its state-dict keys)
ENCODER_PREFIXES = {
    "SEMANTIC_SEGMENTATION": "encoder.",
    "OBJECT_DETECTION": "detector.backbone.encoder.",
    "CHIP_CLASSIFICATION": "",
}


@dataclass
class ModelSpec:
    """The contents of ``model-config.json``.

    Attributes:
        backend: the backend key that trained the model.
        task: the task key.
        encoder: timm model name.
        model_options: architecture options of the task's network.
        classes: ``[{"id", "name", "color"}]`` in model-index order.
        num_channels: input bands the model takes.
        dtype: dtype of the images it was trained on (after raster transformers).
        normalizer: ``{"mean": [...], "std": [...]}`` per band, in raw pixel units.
        chip_size: the training chip size (the prediction window).
    """

    backend: str
    task: str
    encoder: str
    classes: list[dict[str, Any]]
    num_channels: int
    dtype: str
    normalizer: dict[str, list[float]]
    chip_size: int
    model_options: dict[str, Any] = field(default_factory=dict)
    format_version: int = MODEL_CONFIG_FORMAT_VERSION
    rv_pytorch_version: str = ""

    @property
    def class_ids(self) -> list[int]:
        return [int(c["id"]) for c in self.classes]

    @property
    def class_names(self) -> list[str]:
        return [str(c["name"]) for c in self.classes]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def save(self, path: str) -> None:
        """Write to a local path or URI (atomically)."""
        file_utils.write_text(path, self.to_json())

    @classmethod
    def upgrade(cls, raw: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Lift a model config written at ``from_version`` to the current format.

        A later format adds its step here, so bundles of every earlier version keep loading.
        """
        return raw

    @classmethod
    def load(cls, uri: str) -> ModelSpec:
        """Read a ``model-config.json``; a file of a newer format or a missing field is a DataError."""
        try:
            raw = json.loads(file_utils.read_text(uri))
        except json.JSONDecodeError as e:
            raise DataError(f"The model config {uri} is not valid JSON ({e}); rerun TRAIN to rewrite it.") from e
        version = int(raw.get("format_version", 1))
        if version > MODEL_CONFIG_FORMAT_VERSION:
            raise DataError(
                f"The model config {uri} has format version {version}, newer than this rv-pytorch reads "
                f"({MODEL_CONFIG_FORMAT_VERSION}); upgrade rv-pytorch."
            )
        raw = cls.upgrade(raw, version)
        known = set(cls.__dataclass_fields__)
        try:
            return cls(**{k: v for k, v in raw.items() if k in known})
        except TypeError as e:
            raise DataError(f"The model config {uri} lacks a field ({e}); rerun TRAIN to rewrite it.") from e


def _join(uri: str, name: str) -> str:
    return file_utils.join(uri, name)


@dataclass
class ModelFiles:
    """Local paths of a model's weights and (when found) its model config."""

    weights_path: str
    spec_path: str | None
    source: str


def _unpack_zip(uri: str, tmp_dir: str) -> str:
    from rv.bundle_archive import extract_bundle

    local = file_utils.download_if_needed(uri, tmp_dir)
    digest = hashlib.sha1(os.path.abspath(local).encode()).hexdigest()[:12]
    out = os.path.join(tmp_dir, f"model-bundle-{digest}")
    extract_bundle(local, out, uri)  # refuses unsafe entries, zip bombs and non-bundles before writing
    return out


def resolve_model(uri: str, tmp_dir: str, fallback_dir: str | None = None) -> ModelFiles:
    """Local files of the model named by ``uri``.

    ``uri`` is a weights file (its ``model-config.json`` is looked for beside
    it, then in ``fallback_dir``, the train directory), a directory holding
    ``model.safetensors`` (or a format-2 bundle's ``model.pth``: a train directory or an unpacked bundle), or a
    ``model-bundle.zip``. Remote files are downloaded into ``tmp_dir``.

    Raises:
        DataError: nothing is found at ``uri``.
    """
    uri = str(uri)
    if uri.lower().endswith(".zip"):
        uri = _unpack_zip(uri, tmp_dir)
    found = next((_join(uri, n) for n in (MODEL_NAME, LEGACY_MODEL_NAME) if file_utils.exists(_join(uri, n))), None)
    if found is not None:
        weights = found
        spec_candidates = [_join(uri, MODEL_CONFIG_NAME)]
    elif file_utils.exists(uri) and not (file_utils.is_local(uri) and os.path.isdir(uri)):
        weights = uri
        spec_candidates = [_join(posix_dirname(uri), MODEL_CONFIG_NAME)]
        if fallback_dir:
            spec_candidates.append(_join(fallback_dir, MODEL_CONFIG_NAME))
    else:
        raise DataError(
            f"No model at {uri}: it is neither a weights file nor a directory holding {MODEL_NAME} "
            "(a train directory or an unpacked bundle) nor a model-bundle.zip. Run TRAIN first, or fix the URI."
        )
    spec = next((s for s in spec_candidates if file_utils.exists(s)), None)
    return ModelFiles(
        weights_path=file_utils.download_if_needed(weights, tmp_dir),
        spec_path=None if spec is None else file_utils.download_if_needed(spec, tmp_dir),
        source=uri,
    )


def posix_dirname(uri: str) -> str:
    """The directory part of a path or URI."""
    if file_utils.is_local(uri):
        return os.path.dirname(os.path.abspath(uri))
    return uri.rstrip("/").rsplit("/", 1)[0]


def unsafe_weights_error(path: str, reason: Any) -> DataError:
    """The error for a weights file that cannot be read without unpickling Python objects."""
    reason = " ".join(str(reason).split())
    reason = reason if len(reason) <= 300 else reason[:297] + "..."
    stem = path[: -len(os.path.splitext(path)[1])] if os.path.splitext(path)[1] else path
    return DataError(
        f"Refusing to load the weights file {path}: it is not safetensors, and torch.load(weights_only=True) "
        f"cannot read it ({reason}). Reading it would mean unpickling Python objects, which can run any code "
        "the file holds, so rv never does. If you trust the file, convert it once, deliberately: "
        f"`python -m rv_pytorch.convert_weights {path} {stem}.safetensors`, and use the .safetensors file "
        "(see the 'Security and safety' page of rv's documentation)."
    )


def read_state_dict(path: str) -> dict[str, Any]:
    """A state dict from a weights file, never running code from it.

    ``.safetensors`` (what rv writes), or a torch file read with
    ``torch.load(weights_only=True)``: a state dict or a checkpoint holding
    one under ``model``/``state_dict`` (rv's ``last.pth``, format-2 bundles'
    ``model.pth``, most published ``.pth`` weights). Anything else is refused
    (:func:`unsafe_weights_error`).
    """
    import pickle

    import torch

    if _is_safetensors(path):
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except (SafetensorError, OSError, ValueError) as e:
            raise DataError(f"Cannot read the safetensors file {path}: {e}. Copy or download it again.") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError, EOFError) as e:
        raise unsafe_weights_error(path, e) from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise DataError(f"The weights file {path} holds a {type(state).__name__}, not a state dict.")
    return state


def _is_safetensors(path: str) -> bool:
    """Whether ``path`` is a safetensors file, by its content (a weights file may be named ``.pth``)."""
    if path.endswith(".safetensors"):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(9)
        size = os.path.getsize(path)
    except OSError:
        return False
    # safetensors: an 8-byte little-endian header length, then the JSON header.
    return len(head) == 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") < size


def save_weights(state_dict: dict[str, Any], path: str) -> None:
    """Write ``state_dict`` to ``path`` as safetensors, atomically (a temporary file renamed over it)."""
    from safetensors.torch import save_file

    # safetensors stores each tensor once: contiguous CPU copies, no storage shared between keys.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    tmp = f"{path}.tmp-{os.getpid()}"
    save_file(tensors, tmp, metadata={"format": "pt", "writer": "rv-pytorch"})
    os.replace(tmp, path)


def _fit(source, target_shape):
    """``source`` reshaped to a stem of another band count when only that differs, else None."""
    import torch

    if source.shape == target_shape:
        return source
    if source.ndim != 4 or source.shape[0] != target_shape[0] or source.shape[2:] != target_shape[2:]:
        return None
    src_bands, bands = source.shape[1], target_shape[1]
    out = torch.zeros(target_shape, dtype=source.dtype)
    if bands > src_bands:
        # As rv_pytorch.models.encoder.extend_first_conv: known bands keep their
        # filters, extra bands start at zero.
        out[:, :src_bands] = source
    elif bands == 1:
        out[:, 0] = source.sum(dim=1)
    else:
        out[:] = source[:, :bands] * (src_bands / bands)
    return out


def transfer_weights(model, state: dict[str, Any], task_key: str) -> tuple[int, int]:
    """Load the tensors of ``state`` that fit ``model``; returns ``(loaded, total)`` tensors of the model.

    Keys are matched as they are (same network) or as encoder tensors under
    the other networks' encoder prefixes (e.g. a segmentation model's encoder
    seeding a detector, or a plain timm weights file). A stem with another
    band count is adapted (extra bands start at zero). Tensors that fit
    nowhere, such as a classifier head for other classes, keep their
    initialisation.
    """
    target = model.state_dict()
    target_prefix = ENCODER_PREFIXES[task_key]
    # The same network: every key as it is.
    direct = {k: v for k, v in state.items() if k in target and hasattr(v, "shape") and v.shape == target[k].shape}
    # Encoder tensors under any network's prefix (a stem of another band count adapted).
    best: dict[str, Any] = {}
    for source_prefix in sorted(set(ENCODER_PREFIXES.values()), key=len, reverse=True):
        mapped: dict[str, Any] = {}
        for key, tensor in state.items():
            if not key.startswith(source_prefix) or not hasattr(tensor, "shape"):
                continue
            name = target_prefix + key[len(source_prefix) :]
            if name in target:
                fitted = _fit(tensor, target[name].shape)
                if fitted is not None:
                    mapped[name] = fitted
        if len(mapped) > len(best):
            best = mapped
    best.update(direct)
    if best:
        model.load_state_dict(best, strict=False)
    return len(best), len(target)
