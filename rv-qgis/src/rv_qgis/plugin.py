"""rv-qgis's rv plugin: the ``rv qgis install`` and ``rv qgis package`` commands.

Loaded at plugin discovery through the entry point ``rv_qgis = "rv_qgis.plugin"``
(group ``rv.plugins``), so it imports only ``rv`` and typer; the commands'
work lives in :mod:`rv_qgis.install`, imported when they run. Nothing of QGIS
is imported here: the QGIS plugin itself runs in QGIS's own Python.
"""

from typing import Optional  # typer reads the annotations at run time: no `from __future__ import annotations`

from rv.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    """Add the ``rv qgis`` group: ``install`` (into a QGIS profile) and ``package`` (a plugin-manager zip)."""
    import typer

    qgis = typer.Typer(
        name="qgis",
        help="The rv QGIS plugin: install it into a QGIS profile, or package it for the plugin manager.",
        no_args_is_help=True,
    )

    @qgis.command("install")
    def install(
        profile: Optional[str] = typer.Option(
            None, "--profile",
            help="QGIS profile folder (default: ~/.local/share/QGIS/QGIS3/profiles/default, or "
            "$QGIS_CUSTOM_CONFIG_PATH/profiles/default when set).",
        ),
        copy: bool = typer.Option(False, "--copy", help="Copy the plugin's files instead of linking its folder."),
    ) -> None:
        """Install the rv QGIS plugin into <profile>/python/plugins/rv (a link to this installation by default)."""
        from rv_qgis.install import install_plugin

        target = install_plugin(profile, copy=copy)
        typer.echo(f"rv: QGIS plugin installed at {target} (enable \"rv\" in Plugins → Manage and Install Plugins)")

    @qgis.command("package")
    def package(
        output: str = typer.Option("rv-qgis-plugin.zip", "--output", "-o", help="Where to write the zip."),
    ) -> None:
        """Write the zip that QGIS's plugin manager installs (Plugins → Install from ZIP)."""
        from rv_qgis.install import package_plugin

        path = package_plugin(output)
        typer.echo(f"rv: QGIS plugin package written to {path}")

    app.add_typer(qgis)
