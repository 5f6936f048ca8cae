"""A Raster Vision user's segmentation experiment gives the right answer, or says why not.

``raster_vision_user_experiments.py`` is written as the Raster Vision 0.8
documentation shows: classes ``{"building": (1, "red"), "background": (0,
"black")}`` with no background class id, the footprints given as a bare
GeoJSON URI. ``rv run local`` runs it end to end at a tiny budget, as a user
would, and the test reads what the user reads: eval.json, chips.json and what
the run prints.

- With that class map the pixels no footprint covers are background: they
  are counted in the ground truth, so "building everywhere" cannot score 1.0.
- With the building class alone they have no class: CHIP says what share of
  the pixels training ignores and which setting changes it, and EVAL says
  that a one-class ground truth makes its scores meaningless, in eval.json
  and in the summary at the end of the run. Never F1 1.0 in silence.
"""

import json
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parent / "raster_vision_user_experiments.py"
VALIDATION_PIXELS = 512 * 512  # Kampala B, no nodata, no AOI: every pixel is evaluated


@pytest.fixture(scope="module")
def run_user_experiment(run_rv, tmp_path_factory):
    """``run_user_experiment(method)``: ``rv run local raster_vision_user_experiments.py -m METHOD``;
    returns the experiment's root and the finished process."""

    def _run(method):
        root = tmp_path_factory.mktemp(method) / "out"
        result = run_rv("run", "local", EXPERIMENTS, "-m", method, "-a", "root_uri", root)
        return root, result

    return _run


@pytest.fixture(scope="module")
def with_background(run_user_experiment):
    return run_user_experiment("buildings")


@pytest.fixture(scope="module")
def without_background(run_user_experiment):
    return run_user_experiment("buildings_without_background")


def read_outputs(root, exp_id):
    """chips.json and eval.json of the experiment (command keys are the experiment id)."""
    chips = json.loads((root / "chip" / exp_id / "chips.json").read_text())
    report = json.loads((root / "eval" / exp_id / "eval.json").read_text())
    return chips, report


def test_the_class_named_background_is_learned_and_scored(with_background):
    root, result = with_background
    chips, report = read_outputs(root, "buildings")
    # The class named background is the background: chips carry it, nothing is ignored.
    assert chips["background_class_id"] == 0
    assert chips["warnings"] == []
    assert [t["unlabelled"] for t in chips["unlabelled_pixels"]] == [0, 0]
    # The ground truth counts background pixels, every validation pixel has a class.
    counts = {c["class_name"]: c["gt_count"] for c in report["classes"]}
    assert counts["background"] > 0 and counts["building"] > 0
    assert counts["background"] + counts["building"] == VALIDATION_PIXELS
    building = next(c for c in report["classes"] if c["class_name"] == "building")
    assert building["f1"] < 1.0
    assert report["warnings"] == []
    # The end of the run shows the scores, with no warning.
    assert "rv: EVAL buildings (experiment buildings)" in result.stderr
    assert f"building: f1 {building['f1']:.3f}" in result.stderr
    output = result.stdout + result.stderr
    assert "of its chip pixels inside the AOI" not in output and "The ground truth holds" not in output


def test_without_a_background_class_the_run_says_why_its_score_means_nothing(without_background):
    root, result = without_background
    chips, report = read_outputs(root, "buildings-no-background")
    output = result.stdout + result.stderr

    # CHIP, before training: the share of pixels ignored and the settings that make them background.
    assert chips["background_class_id"] is None
    train = next(t for t in chips["unlabelled_pixels"] if t["split"] == "train")
    assert 0 < train["unlabelled"] < train["pixels"]
    chip_warning = next(w for w in chips["warnings"] if w.startswith("Scene 'train_scene' (train): "))
    share = f"{train['unlabelled'] / train['pixels']:.1%} of its chip pixels inside the AOI"
    assert share in chip_warning and "have no class" in chip_warning
    assert "with_background_class_id(id)" in chip_warning and "with_rasterizer_options" in chip_warning
    assert f"rv: warning: {chip_warning}" in output  # on the console (and in CHIP's log)

    # EVAL: building is the only class of the ground truth; eval.json, the log and the summary say so.
    (building,) = report["classes"]
    assert 0 < building["gt_count"] < VALIDATION_PIXELS
    assert report["overall"]["unlabelled_count"] == VALIDATION_PIXELS - building["gt_count"]
    (eval_warning,) = report["warnings"]
    assert eval_warning.startswith(
        f"The ground truth holds a single class, 'building' ({building['gt_count']:,} pixels)"
    )
    assert "scores F1 1.0" in eval_warning and "background" in eval_warning
    assert f"rv: warning: {eval_warning}" in output
    summary = result.stderr[result.stderr.index("rv: EVAL buildings-no-background") :]
    assert f"warning: {eval_warning}" in summary
