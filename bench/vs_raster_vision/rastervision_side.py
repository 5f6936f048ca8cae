"""Raster Vision 0.31's side of ``run.py``: runs in Raster Vision's own environment, never in rv's.

Two uses:

- ``python rastervision_side.py WHAT ARGS``: one measurement in this fresh
  process (``analyze``, ``chip``, ``eval``, ``predict``, ``pipeline``); the
  last stdout line is a JSON object (``seconds``, ``rate``, ... as
  ``_synthetic.Meter.report`` gives them).
- ``rastervision run inprocess rastervision_side.py -a root_uri OUT -a ...``:
  the module is also a Raster Vision pipeline file (``get_config``), the 2048²
  + 2048² pipeline at Raster Vision's defaults (``-a mode defaults``) or at the
  work rv does at equal work (``-a mode equal``).

Everything follows Raster Vision 0.31's own API and defaults; the only choices
made for it are the ones it requires (a chip size: 256, as rv's), and
``pretrained=False`` (its default downloads ImageNet weights, and this machine
may have no internet; rv trains from scratch too).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _synthetic as syn  # noqa: E402  (numpy only at import: the Meter)

HERE = os.path.abspath(__file__)
CHIP = 256


def class_config():
    from rastervision.core.data import ClassConfig

    # The synthetic labels: background 0, building 1 (the GeoJSON carries class_id 1).
    return ClassConfig(names=["background", "building"], colors=["lightgray", "red"], null_class="background")


def scene_config(scene_id: str, image: str, labels: str | None, stats: bool = True):
    from rastervision.core.data import (
        GeoJSONVectorSourceConfig,
        RasterioSourceConfig,
        RasterizedSourceConfig,
        RasterizerConfig,
        SceneConfig,
        SemanticSegmentationLabelSourceConfig,
        StatsTransformerConfig,
    )

    raster = RasterioSourceConfig(
        uris=[image], channel_order=[0, 1, 2], transformers=[StatsTransformerConfig()] if stats else []
    )
    label_source = None
    if labels is not None:
        label_source = SemanticSegmentationLabelSourceConfig(
            raster_source=RasterizedSourceConfig(
                vector_source=GeoJSONVectorSourceConfig(uris=[labels]),
                rasterizer_config=RasterizerConfig(background_class_id=syn.BACKGROUND_ID),
            )
        )
    return SceneConfig(id=scene_id, raster_source=raster, label_source=label_source)


def get_config(runner, root_uri, train_image, train_labels, valid_image, valid_labels, mode="defaults", chips="64"):
    """The 2048² + 2048² pipeline for 1 epoch: ANALYZE, CHIP, TRAIN, PREDICT, EVAL, BUNDLE.

    ``defaults``: sliding 256² chips (stride = the chip, Raster Vision's default), the default
    solver (batch 32, lr 1e-4) for 1 epoch, the default network (DeepLabV3, resnet50).
    ``equal``: as rv's equal-work run: ``chips`` random 256² chips a scene, batch 8, 1 epoch.
    """
    from rastervision.core.analyzer import StatsAnalyzerConfig
    from rastervision.core.data import DatasetConfig
    from rastervision.core.rv_pipeline import (
        SemanticSegmentationChipOptions,
        SemanticSegmentationConfig,
        SemanticSegmentationPredictOptions,
        WindowSamplingConfig,
        WindowSamplingMethod,
    )
    from rastervision.pytorch_backend import PyTorchSemanticSegmentationConfig
    from rastervision.pytorch_learner import (
        SemanticSegmentationImageDataConfig,
        SemanticSegmentationModelConfig,
        SolverConfig,
    )

    classes = class_config()
    dataset = DatasetConfig(
        class_config=classes,
        train_scenes=[scene_config("train", train_image, train_labels)],
        validation_scenes=[scene_config("valid", valid_image, valid_labels)],
    )
    if mode == "defaults":
        sampling = WindowSamplingConfig(size=CHIP)
        solver = SolverConfig(num_epochs=1)
    elif mode == "equal":
        sampling = WindowSamplingConfig(method=WindowSamplingMethod.random, size=CHIP, max_windows=int(chips))
        solver = SolverConfig(num_epochs=1, batch_sz=8)
    else:
        raise ValueError(f"mode {mode!r}: use defaults or equal")
    backend = PyTorchSemanticSegmentationConfig(
        data=SemanticSegmentationImageDataConfig(),
        model=SemanticSegmentationModelConfig(pretrained=False),
        solver=solver,
    )
    return SemanticSegmentationConfig(
        root_uri=root_uri,
        dataset=dataset,
        backend=backend,
        analyzers=[StatsAnalyzerConfig()],
        chip_options=SemanticSegmentationChipOptions(sampling=sampling),
        predict_options=SemanticSegmentationPredictOptions(chip_sz=CHIP),
    )


# --------------------------------------------------------------------------
# Measurements (each in a fresh process)
# --------------------------------------------------------------------------


def analyze(image: str) -> dict:
    """StatsAnalyzer with sample_prob=None: a sliding pass over every pixel (its chip_sz 300)."""
    from rastervision.core.analyzer import StatsAnalyzer
    from rastervision.core.data import RasterioSource

    out = tempfile.mkdtemp(prefix="ras-analyze-")
    source = RasterioSource(image)
    h, w = source.shape[:2]
    scene = type("S", (), {"raster_source": source})()
    with syn.Meter() as m:
        StatsAnalyzer(os.path.join(out, "stats.json"), sample_prob=None).process([scene], out)
    return {**m.report(h * w / 1e6), "mpix": h * w / 1e6}


def chip(image: str, labels: str, out: str, chips: int) -> dict:
    """The CHIP stage of a pipeline with one training scene: ``chips`` random 256² windows, the labels
    rasterized from the GeoJSON, PNG chips and label PNGs zipped (what Raster Vision's chip writes)."""
    from rastervision.core.data import DatasetConfig
    from rastervision.core.rv_pipeline import (
        SemanticSegmentationChipOptions,
        SemanticSegmentationConfig,
        WindowSamplingConfig,
        WindowSamplingMethod,
    )
    from rastervision.pytorch_backend import PyTorchSemanticSegmentationConfig
    from rastervision.pytorch_learner import (
        SemanticSegmentationImageDataConfig,
        SemanticSegmentationModelConfig,
        SolverConfig,
    )

    os.makedirs(out, exist_ok=True)
    root = tempfile.mkdtemp(prefix="ras-chip-", dir=out)
    sampling = WindowSamplingConfig(method=WindowSamplingMethod.random, size=CHIP, max_windows=int(chips))
    cfg = SemanticSegmentationConfig(
        root_uri=root,
        dataset=DatasetConfig(
            class_config=class_config(),
            train_scenes=[scene_config("train", image, labels, stats=False)],
            validation_scenes=[],
        ),
        backend=PyTorchSemanticSegmentationConfig(
            data=SemanticSegmentationImageDataConfig(),
            model=SemanticSegmentationModelConfig(pretrained=False),
            solver=SolverConfig(),
        ),
        chip_options=SemanticSegmentationChipOptions(sampling=sampling),
    )
    cfg.update()
    cfg.recursive_validate_config()
    tmp = tempfile.mkdtemp(prefix="tmp-", dir=out)
    pipeline = cfg.build(tmp)
    with syn.Meter() as m:
        pipeline.chip()
    count = 0
    for z in glob.glob(os.path.join(root, "**", "*.zip"), recursive=True):
        with zipfile.ZipFile(z) as f:
            count += sum(1 for n in f.namelist() if "/img/" in n and not n.endswith("/"))
    return {**m.report(count)}


def write_boxes_for_raster_vision(path: str, out: str) -> str:
    """The same boxes with 0-based class ids (Raster Vision's class ids start at 0)."""
    with open(path) as f:
        doc = json.load(f)
    for feature in doc["features"]:
        feature["properties"]["class_id"] -= 1
    with open(out, "w") as f:
        json.dump(doc, f)
    return out


def evaluate(image: str, gt: str, pred: str, work: str) -> dict:
    """ObjectDetectionEvaluator.process on one scene: GeoJSON read, boxes matched, eval.json written."""
    from rastervision.core.data import (
        ClassConfig,
        GeoJSONVectorSourceConfig,
        ObjectDetectionGeoJSONStoreConfig,
        ObjectDetectionLabelSourceConfig,
        RasterioSourceConfig,
        SceneConfig,
    )
    from rastervision.core.evaluation import ObjectDetectionEvaluator

    out = tempfile.mkdtemp(prefix="ras-eval-", dir=work)
    gt = write_boxes_for_raster_vision(gt, os.path.join(out, "gt.geojson"))
    pred = write_boxes_for_raster_vision(pred, os.path.join(out, "pred.geojson"))
    classes = ClassConfig(names=["car", "truck", "bus"])
    scene_cfg = SceneConfig(
        id="eval",
        raster_source=RasterioSourceConfig(uris=[image]),
        label_source=ObjectDetectionLabelSourceConfig(vector_source=GeoJSONVectorSourceConfig(uris=[gt])),
        label_store=ObjectDetectionGeoJSONStoreConfig(uri=pred),
    )
    output = os.path.join(out, "eval.json")
    with syn.Meter() as m:
        scene = scene_cfg.build(classes, out)
        ObjectDetectionEvaluator(classes, output).process([scene], out)
    with open(output) as f:
        items = json.load(f)["overall"]
    return {**m.report(1), "f1": average_f1(items)}


def f1_of(item: dict) -> float | None:
    """An eval.json class item's F1 (Raster Vision keeps it under "metrics")."""
    return item.get("metrics", item).get("f1")


def average_f1(items: list[dict]) -> float | None:
    """The "average" item's F1, else the mean of the classes' weighted by their ground truth."""
    average = next((i for i in items if i.get("class_name") == "average"), None)
    if average is not None:
        return f1_of(average)
    total = sum(i.get("gt_count") or 0 for i in items)
    return sum((f1_of(i) or 0) * (i.get("gt_count") or 0) for i in items) / total if total else None


def predict(bundle: str, image: str, work: str) -> dict:
    """What ``rastervision predict BUNDLE IMAGE OUT`` does (``Predictor``), less the polygons it also
    draws for every class: the bundle unpacked and loaded, the scene predicted, the class raster written."""
    import rasterio
    from rastervision.core.predictor import Predictor

    out = tempfile.mkdtemp(prefix="ras-predict-", dir=work)
    with rasterio.open(image) as src:
        pixels = src.width * src.height
    with syn.Meter() as m:
        p = Predictor(bundle, tempfile.mkdtemp(prefix="tmp-", dir=work))
        p.scene.raster_source.uris = [image]
        p.scene.label_store.uri = out
        p.pipeline = p.config.build(p.tmp_dir)
        p.pipeline.build_backend(os.path.join(p.bundle_dir, "model-bundle.zip"))
        p.pipeline.predict()
    opts = p.config.predict_options
    windows = (-(-src.width // opts.stride)) * (-(-src.height // opts.stride))
    return {**m.report(pixels), "windows": windows, "stride": opts.stride, "chip_sz": opts.chip_sz}


def pipeline(train_image, train_labels, valid_image, valid_labels, root, mode, chips) -> dict:
    """``rastervision run inprocess`` of this file's pipeline, timed as a user waits for it."""
    python_dir = os.path.dirname(sys.executable)
    argv = [os.path.join(python_dir, "rastervision"), "run", "inprocess", HERE,
            "-a", "root_uri", root, "-a", "train_image", train_image, "-a", "train_labels", train_labels,
            "-a", "valid_image", valid_image, "-a", "valid_labels", valid_labels,
            "-a", "mode", mode, "-a", "chips", str(chips)]  # fmt: skip
    log = root.rstrip("/") + ".log"
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with syn.Meter() as m, open(log, "w") as f:
        code = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT).returncode
    if code != 0:
        with open(log) as f:
            raise RuntimeError(f"rastervision run inprocess failed ({code}); end of {log}:\n{f.read()[-4000:]}")
    result = {**m.report(1), "log": log}
    count = {}
    for z in glob.glob(os.path.join(root, "chip", "*.zip")):
        with zipfile.ZipFile(z) as f:
            for split in ("train", "valid"):
                count[split] = count.get(split, 0) + sum(
                    1 for n in f.namelist() if n.startswith(f"{split}/img/") and not n.endswith("/")
                )
    result["chips"] = count
    batch = 32 if mode == "defaults" else 8
    n = count.get("train", 0)
    result["steps"] = n // batch + (1 if n % batch > 1 else 0)  # the last batch is dropped when it holds one chip
    evals = glob.glob(os.path.join(root, "eval", "**", "eval.json"), recursive=True)
    if evals:
        with open(evals[0]) as f:
            report = json.load(f)
        items = report.get("overall", report) if isinstance(report, dict) else report
        building = next((c for c in items if isinstance(c, dict) and c.get("class_name") == "building"), None)
        result["building_f1"] = None if building is None else f1_of(building)
    bundles = glob.glob(os.path.join(root, "bundle", "**", "model-bundle.zip"), recursive=True)
    result["bundle"] = bundles[0] if bundles else None
    return result


CHILDREN = {
    "analyze": (analyze, (str,)),
    "chip": (chip, (str, str, str, int)),
    "eval": (evaluate, (str, str, str, str)),
    "predict": (predict, (str, str, str)),
    "pipeline": (pipeline, (str, str, str, str, str, str, int)),
}


if __name__ == "__main__":
    fn, types = CHILDREN[sys.argv[1]]
    print(json.dumps(fn(*(t(v) for t, v in zip(types, sys.argv[2:])))))
