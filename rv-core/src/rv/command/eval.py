"""EVAL: compare predictions with ground truth; write eval.json and the confusion-matrix PNG."""

from __future__ import annotations


def run_eval(config, tmp_dir: str) -> None:
    scenes = [s.create(config.task, tmp_dir, with_labels=True, with_store=True) for s in config.scenes]
    for evaluator_config in config.evaluators:
        evaluator = evaluator_config.create(config.task)
        report = evaluator.process(scenes, tmp_dir)
        overall = report.to_dict().get("overall", {})
        shown = {k: round(v, 4) for k, v in overall.items() if isinstance(v, float)}
        print(f"rv: evaluation written to {evaluator_config.output_uri}: {shown}", flush=True)
