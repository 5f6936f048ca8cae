"""An experiment on a web server: ``rv:load_experiment`` fetches it into the working directory, again only when newer.

The server is Python's ``ThreadingHTTPServer`` on loopback, serving the
land-cover run and the sample data; the plugin fetches through the configured
``rv`` (``rv qgis fetch``, rv's own file systems).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading

import pytest


@pytest.fixture
def web(tmp_path, landcover_run):
    """``(base_url, served_dir, requests)``: the run's root and the sample data over http, each request logged."""
    served = tmp_path / "www"
    served.mkdir()
    (served / "root").symlink_to(landcover_run.root, target_is_directory=True)
    data = landcover_run.image.parent  # examples/data/landcover
    (served / "data").symlink_to(data, target_is_directory=True)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            requests.append(f"{self.command} {self.path}")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    # The experiment as it would be published: every URI under the server.
    text = landcover_run.experiment.read_text(encoding="utf-8")
    text = text.replace(str(landcover_run.root), f"{base}/root").replace(str(data), f"{base}/data")
    (served / "experiments").mkdir()
    (served / "experiments" / "landcover.json").write_text(text, encoding="utf-8")
    yield base, served, requests
    server.shutdown()
    server.server_close()


LOAD_TWICE = """
    import time
    QgsSettings().setValue("rv/working_dir", os.environ["WORK_DIR"])
    uri = os.environ["BASE"] + "/experiments/landcover.json"

    class Log(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.lines = []

        def pushConsoleInfo(self, info):
            super().pushConsoleInfo(info)
            self.lines.append(info)

    def load():
        project = QgsProject.instance()
        project.clear()
        log = Log()
        out = processing.run("rv:load_experiment", {"EXPERIMENT": uri}, feedback=log)
        downloaded = sorted(line.split()[2] for line in log.lines if line.startswith("rv: downloaded "))
        layers = {l.name(): describe(l) for l in project.mapLayers().values()}
        sources = {l.name(): l.source().split("|")[0] for l in project.mapLayers().values()}
        return {"loaded": out["LOADED"], "layers": layers, "sources": sources, "downloaded": downloaded}

    first = load()
    again = load()  # nothing changed on the server: nothing downloaded
    # The server's experiment changes (water is now red): the next load fetches it.
    served = os.environ["SERVED_EXPERIMENT"]
    with open(served, encoding="utf-8") as f:
        text = f.read()
    with open(served, "w", encoding="utf-8") as f:
        f.write(text.replace('"blue"', '"red"'))
    later = time.time() + 5
    os.utime(served, (later, later))
    changed = load()
    missing = None
    try:
        processing.run("rv:load_experiment", {"EXPERIMENT": os.environ["BASE"] + "/experiments/gone.json"})
    except QgsProcessingException as exc:
        missing = str(exc)
    result({"first": first, "again": again, "changed": changed, "missing": missing})
"""


def test_a_remote_experiment_is_fetched_into_the_working_directory_when_newer(run_qgis, web, tmp_path):
    base, served, requests = web
    work_dir = tmp_path / "work"
    got = run_qgis(
        LOAD_TWICE, BASE=base, WORK_DIR=work_dir, SERVED_EXPERIMENT=served / "experiments" / "landcover.json"
    )

    first = got["first"]
    assert first["loaded"] == 7
    # every layer is a local copy under <working dir>/http/<host>/...
    host_dir = work_dir / "http" / base.split("//")[1]
    assert all(os.path.commonpath([path, host_dir]) == str(host_dir) for path in first["sources"].values()), first
    assert first["sources"]["val-tile4-valid"] == str(host_dir / "data" / "s2_aberystwyth_tile4.tif")
    copy = json.loads((host_dir / "experiments" / "landcover.json").read_text(encoding="utf-8"))
    assert '"red"' in json.dumps(copy)  # the last fetched version
    assert first["layers"]["val-tile4-valid-ground_truth"]["classes"][3] == [4, "#0000ff", "water"]
    assert got["again"]["layers"] == first["layers"]
    assert got["changed"]["layers"]["val-tile4-valid-ground_truth"]["classes"][3] == [4, "#ff0000", "water"]

    # what `rv qgis fetch` reported downloading, load by load
    files = [
        "data/s2_aberystwyth_tile4.tif",
        "data/s2_aberystwyth_tile4_labels.tif",
        "data/train_aoi.geojson",
        "experiments/landcover.json",
        "root/predict/landcover/tile4-valid-polygons.geojson",
        "root/predict/landcover/tile4-valid.tif",
    ]
    assert first["downloaded"] == [f"{base}/{name}" for name in files]
    assert got["again"]["downloaded"] == []
    assert got["changed"]["downloaded"] == [f"{base}/experiments/landcover.json"]
    assert any(r == "HEAD /data/s2_aberystwyth_tile4.tif" for r in requests)  # asked, not fetched again
    assert "gone.json" in got["missing"] and "does not exist" in got["missing"]
