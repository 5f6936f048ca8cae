"""rv-qgis's rv plugin: the ``rv qgis install``, ``rv qgis package`` and ``rv qgis fetch`` commands.

Loaded at plugin discovery through the entry point ``rv_qgis = "rv_qgis.plugin"``
(group ``rv.plugins``), so it imports only ``rv`` and typer; the commands'
work lives in :mod:`rv_qgis.install`, imported when they run. Nothing of QGIS
is imported here: the QGIS plugin itself runs in QGIS's own Python.
"""

from typing import Optional  # typer reads the annotations at run time: no `from __future__ import annotations`

from rv.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    """Add the ``rv qgis`` group: ``install`` (into a QGIS profile), ``package`` (a plugin-manager zip), ``fetch``."""
    import typer

    qgis = typer.Typer(
        name="qgis",
        help="The rv QGIS plugin: install it into a QGIS profile, package it for the plugin manager; fetch files for it.",
        no_args_is_help=True,
    )

    @qgis.command("install")
    def install(
        profile: Optional[str] = typer.Option(
            None,
            "--profile",
            help="QGIS profile folder (default: ~/.local/share/QGIS/QGIS3/profiles/default, or "
            "$QGIS_CUSTOM_CONFIG_PATH/profiles/default when set).",
        ),
        copy: bool = typer.Option(False, "--copy", help="Copy the plugin's files instead of linking its folder."),
        enable: bool = typer.Option(
            True,
            "--enable/--no-enable",
            help="Also enable the plugin in the profile's settings (QGIS/QGIS3.ini) and set its rv executable to "
            "this installation's rv.",
        ),
    ) -> None:
        """Install the rv QGIS plugin into <profile>/python/plugins/rv (a link to this installation by default)."""
        import sys
        from pathlib import Path

        from rv_qgis.install import install_plugin

        rv_command = Path(sys.executable).with_name("rv")
        executable = str(rv_command) if rv_command.is_file() else None
        target = install_plugin(profile, copy=copy, enable=enable, rv_executable=executable)
        typer.echo(f"rv: QGIS plugin installed at {target}")
        if enable:
            typer.echo(f"rv: enabled in the profile's settings; it runs {executable or 'rv found on PATH'}")
        else:
            typer.echo('rv: enable "rv" in Plugins → Manage and Install Plugins')

    @qgis.command("package")
    def package(
        output: str = typer.Option("rv-qgis-plugin.zip", "--output", "-o", help="Where to write the zip."),
    ) -> None:
        """Write the zip that QGIS's plugin manager installs (Plugins → Install from ZIP)."""
        from rv_qgis.install import package_plugin

        path = package_plugin(output)
        typer.echo(f"rv: QGIS plugin package written to {path}")

    @qgis.command("fetch")
    def fetch(
        uris: list[str] = typer.Argument(
            ..., help="Files to fetch: local paths or any URI rv reads (http(s)://, s3://, ...)."
        ),
        working_dir: str = typer.Option(..., "--working-dir", help="Where remote files are copied."),
        output: str = typer.Option(..., "--output", help="JSON file written with {files, downloaded, errors}."),
    ) -> None:
        """Copy remote files into a working directory when absent or newer (what the QGIS plugin runs)."""
        from rv_qgis.fetch import fetch_all, write_json_atomically

        result = fetch_all(uris, working_dir)
        write_json_atomically(output, result)
        for uri in result["downloaded"]:
            typer.echo(f"rv: downloaded {uri} to {result['files'][uri]}")
        for uri, message in result["errors"].items():
            typer.echo(f"rv: error: cannot fetch {uri}: {message}", err=True)

    app.add_typer(qgis)
