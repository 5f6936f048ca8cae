"""The quality of all four examples at their default budgets, each metric beside its baseline (issue 21).

    .venv/bin/python bench/quality.py              # all four, one after another (~25 min on 2 idle cores)
    .venv/bin/python bench/quality.py --only buildings_segmentation

Runs ``rv run local examples/<name>.py -a root_uri OUT`` for
``buildings_segmentation``, ``buildings_chip_classification``,
``trees_object_detection`` and ``landcover_multiband`` exactly as a user
would (fresh process, no ``RV_*`` settings, no profile), reads each
``eval.json`` and prints one table: measured, baseline, required, PASS/FAIL,
and the training and run times. The bars:

- buildings: building F1 ≥ 0.80, IoU ≥ 0.68 and mIoU ≥ 0.60 on Kampala B
  (baseline: answering "building" everywhere: 0.744, 0.59, 0.30);
- trees: AP50 ≥ 0.25 on the held-out AOI (absolute);
- building cells: accuracy and building-cell F1 ≥ the majority answer + 0.10;
- landcover: pixel accuracy ≥ the majority class's share + 0.15.

A script, not a test: it exits 0 whatever it finds. The work is done by
``bench/example_quality.py`` (same options, see ``--help``); this is the
entry point that runs all four.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import example_quality  # noqa: E402

#: In the order of issue 21.
ALL = ("buildings_segmentation", "buildings_chip_classification", "trees_object_detection", "landcover_multiband")


def main(argv: list[str] | None = None) -> int:
    missing = [name for name in ALL if name not in example_quality.EXAMPLES]
    if missing:
        raise SystemExit(f"bench/example_quality.py does not know {missing}")
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--only" not in argv:
        for name in ALL:
            argv += ["--only", name]
    return example_quality.main(argv)


if __name__ == "__main__":
    sys.exit(main())
