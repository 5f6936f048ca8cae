"""ANALYZE: run the analyzers over the training and validation rasters."""

from __future__ import annotations

import attrs

from rv import file_utils


def run_analyze(config, tmp_dir: str) -> None:
    """Write each analyzer's output (stats.json) into the command's directory.

    A part of a split ANALYZE (``config.part``) writes each analyzer's partial result of its share of the
    windows (``analyzer-<k>.npz``); the merge (``config.parts > 1``) adds the parts' partial results up into
    the outputs an unsplit ANALYZE writes.
    """
    raster_sources = []
    for scene in config.scenes:
        # Statistics are of the raw bands: transformers (which need them) are left out.
        rs_config = attrs.evolve(scene.raster_source, transformers=())
        raster_sources.append(rs_config.create(tmp_dir))
    if config.part is not None:
        for uri, analyzer_config in zip(config.outputs(), config.analyzers):
            file_utils.write_bytes(
                uri, analyzer_config.create().process_part(raster_sources, config.part, config.parts)
            )
        return
    used: list[str] = []
    for k, analyzer_config in enumerate(config.analyzers):
        analyzer = analyzer_config.create()
        if config.parts > 1:
            from rv.command.split import part_uri

            uris = [file_utils.join(part_uri(config.command_uri, p), f"analyzer-{k}.npz") for p in range(config.parts)]
            used += uris
            partials = [file_utils.read_bytes(uri) for uri in uris]
            result = analyzer.merge_parts(raster_sources, partials)
        else:
            result = analyzer.process(raster_sources)
        for name in analyzer_config.output_names():
            result.save(file_utils.join(config.command_uri, name))
    if used:
        from rv.command.split import remove_part_outputs

        remove_part_outputs(used)
