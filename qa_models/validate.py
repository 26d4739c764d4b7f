"""Judge a saved checkpoint on validation only: the numbers settings are chosen by.

    python -m qa_models.validate CHECKPOINT --config configs/smollm2/135m_lora_generative.yaml

loads the checkpoint (a folder written by ``adapter.save``: ``.cache/checkpoints/<row>-<key>/
checkpoint`` or a run's ``checkpoints/<model>``), predicts the validation questions of the
config's data, tunes the no-answer threshold on them exactly as a run does
(``runner.judge_validation``), and prints and writes the validation scores with the abstention
diagnostics (share abstained, never-abstain HasAns F1, no-answer AUROC) and the F1 difference
from answering "" everywhere with its 95% paired bootstrap interval: on a validation set that
is half unanswerable, abstaining everywhere is the bar a model must clear. Test is loaded
with the data but never predicted or scored, so the command can be run as often as a
choice needs; a run's report carries the same validation numbers in its ``validation_abstention`` section.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from . import metrics, measure
from .adapters import load_adapter
from .config import ConfigError
from .data import DataError
from .files import atomic_write_json
from .report.stats import gain_over_abstaining
from .run_config import load_run_config
from .runner import judge_validation, load_run_data, score


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa_models.validate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="folder of a saved qabench checkpoint (holds qabench.json)")
    parser.add_argument("--config", required=True, metavar="CONFIG.yaml",
                        help="run config whose data: section (files, sample sizes, seed) gives the validation questions")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help="prediction batch size (default: the config's train.eval_batch_size)")
    parser.add_argument("--out", metavar="OUT.json", help="also write the numbers to this JSON file")
    return parser


def validation_summary(checkpoint: str | Path, config_path: str | Path, batch_size: int | None = None) -> dict:
    """Validation F1 at the validation-tuned threshold and the abstention diagnostics of one checkpoint."""
    config = load_run_config(config_path)
    data = load_run_data(config.data, config.train.seed)
    adapter = load_adapter(checkpoint)
    track = config.data.track
    predictions, threshold, answers = judge_validation(adapter, data.validation, track,
                                                       batch_size or config.train.eval_batch_size)
    abstention = measure.abstention_record(track, data.validation, predictions, answers)
    gold = {e.id: e.gold_texts for e in data.validation}
    _, f1_answers = metrics.per_question_scores(gold, answers)
    diff, low, high = gain_over_abstaining({q: 100 * v for q, v in f1_answers.items()},
                                           {q: bool(texts) for q, texts in gold.items()})
    return {
        "checkpoint": str(checkpoint),
        "model": adapter.spec.name,
        "config": str(config_path),
        "validation_questions": len(data.validation),
        "validation_unanswerable": sum(1 for e in data.validation if not e.gold_texts),
        "threshold": threshold,
        "validation": score(track, data.validation, answers),
        "validation_abstention": dataclasses.asdict(abstention) if abstention else None,
        "f1_minus_abstaining_everywhere": {"diff": diff, "low": low, "high": high},
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = validation_summary(args.checkpoint, args.config, args.batch_size)
    except (ConfigError, DataError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        atomic_write_json(Path(args.out), summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
