"""ANALYZE: run the analyzers over the training and validation rasters."""

from __future__ import annotations

import attrs

from rv import file_utils


def run_analyze(config, tmp_dir: str) -> None:
    """Write each analyzer's output (stats.json) into the command's directory."""
    raster_sources = []
    for scene in config.scenes:
        # Statistics are of the raw bands: transformers (which need them) are left out.
        rs_config = attrs.evolve(scene.raster_source, transformers=())
        raster_sources.append(rs_config.create(tmp_dir))
    for analyzer_config in config.analyzers:
        analyzer = analyzer_config.create()
        result = analyzer.process(raster_sources)
        for name in analyzer_config.output_names():
            result.save(file_utils.join(config.command_uri, name))
