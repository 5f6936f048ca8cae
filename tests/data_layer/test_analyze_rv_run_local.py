"""ANALYZE through ``rv run local`` (a real subprocess) against numpy statistics of the valid pixels.

Two scenes: the real Landsat 8 stack (10 bands uint16, nodata 0 at the scene
edges, saturated values reaching 65535) and a synthetic 10-band uint16
GeoTIFF with nodata 0 in blocks, written here. The experiment file asks for a
full pass (``sample_prob=1``); ``stats.json`` must give per band the mean and
standard deviation numpy computes over both rasters' pixels that are not
nodata, within 0.5 % (issue 15), and the valid-pixel count exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import rasterio

#: The backend the experiment needs (ANALYZE never runs it), as a legacy plugin file: the
#: ``rv`` subprocess loads it from ``PLUGINS_FILES``.
PLUGIN = textwrap.dedent(
    '''
    import attrs
    import rv
    from rv.backend.backend_config import BackendConfig, BackendConfigBuilder


    @attrs.frozen
    class AnalyzeOnlyBackendConfig(BackendConfig):
        """Never run: ANALYZE does not need a backend, the experiment does."""


    class AnalyzeOnlyBackendConfigBuilder(BackendConfigBuilder):
        config_class = AnalyzeOnlyBackendConfig


    def register_plugin(plugin_registry):
        plugin_registry.register_config_builder(rv.BACKEND, "ANALYZE_ONLY_BACKEND", AnalyzeOnlyBackendConfigBuilder)
    '''
)

EXPERIMENT = textwrap.dedent(
    """
    import rv


    class Stats(rv.ExperimentSet):
        def exp_stats(self, root_uri, train_image, valid_image):
            task = (
                rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION)
                .with_classes({"a": 1, "b": 2})
                .with_chip_size(64)
                .build()
            )
            backend = rv.BackendConfig.builder("ANALYZE_ONLY_BACKEND").with_task(task).build()
            scenes = rv.SceneConfig.builder().with_task(task)
            train = scenes.with_id("landsat").with_raster_source(train_image).build()
            valid = scenes.with_id("synthetic").with_raster_source(valid_image).build()
            dataset = rv.DatasetConfig.builder().with_train_scene(train).with_validation_scene(valid).build()
            return (
                rv.ExperimentConfig.builder()
                .with_id("nodata-stats")
                .with_task(task)
                .with_backend(backend)
                .with_dataset(dataset)
                .with_root_uri(root_uri)
                .with_stats_analyzer(sample_prob=1.0, chip_size=100)
                .build()
            )


    if __name__ == "__main__":
        rv.main()
    """
)


def write_synthetic(path: Path, like: Path) -> None:
    """10-band uint16 on the Landsat grid: random values, nodata 0 in blocks and a corner."""
    with rasterio.open(like) as src:
        profile = src.profile.copy()
    rng = np.random.default_rng(0)
    c, h, w = profile["count"], profile["height"], profile["width"]
    data = rng.gamma(2.0, 300.0, (c, h, w)).clip(1, 65535).astype(np.uint16)
    data[:, 20:90, 30:140] = 0  # nodata blocks, all bands
    data[:, h - 40 :, w - 60 :] = 0
    data[3, 100:130, :] = 0  # and a strip in one band only (nodata is per band)
    profile.update(nodata=0, tiled=True, blockxsize=64, blockysize=64, compress="deflate")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def test_analyze_through_rv_run_local_matches_numpy(data_dir, tmp_path):
    landsat = data_dir / "multiband" / "landsat8_016037_900m_10band.tif"
    synthetic = tmp_path / "synthetic.tif"
    write_synthetic(synthetic, landsat)
    (tmp_path / "plugin.py").write_text(PLUGIN)
    (tmp_path / "experiment.py").write_text(EXPERIMENT)
    root = tmp_path / "out"

    env = {k: v for k, v in os.environ.items() if not k.startswith("RV_")}
    env["PLUGINS_FILES"] = str(tmp_path / "plugin.py")
    rv_exe = Path(sys.executable).with_name("rv")
    argv = [str(rv_exe), "run", "local", str(tmp_path / "experiment.py"), "ANALYZE"]
    argv += ["-a", "root_uri", str(root), "-a", "train_image", str(landsat), "-a", "valid_image", str(synthetic)]
    argv += ["--tempdir", str(tmp_path / "tmp")]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

    stats_path = root / "analyze" / "nodata-stats" / "stats.json"  # ANALYZE's output, keyed by the experiment
    stats = json.loads(stats_path.read_text())
    assert stats["num_channels"] == 10

    # Per band: every pixel of both rasters whose value is not that raster's nodata (0 for both).
    values = [[] for _ in range(10)]
    raw = []
    for path in (landsat, synthetic):
        with rasterio.open(path) as ds:
            assert ds.nodata == 0
            arr = ds.read()
        raw.append(arr.reshape(10, -1))
        for b in range(10):
            band = arr[b].ravel()
            values[b].append(band[band != ds.nodata].astype(np.float64))
    values = [np.concatenate(v) for v in values]
    means = np.array([v.mean() for v in values])
    stds = np.array([v.std() for v in values])
    np.testing.assert_allclose(stats["means"], means, rtol=0.005)
    np.testing.assert_allclose(stats["stds"], stds, rtol=0.005)
    np.testing.assert_allclose(stats["mins"], [v.min() for v in values])
    np.testing.assert_allclose(stats["maxs"], [v.max() for v in values])
    assert stats["count"] == max(len(v) for v in values)
    # Nodata really was left out: with the zeros counted the means would be far lower.
    with_zeros = np.concatenate(raw, axis=1).mean(axis=1)
    assert (np.asarray(stats["means"]) > with_zeros * 1.05).all()
