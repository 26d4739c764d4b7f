"""Ask a saved checkpoint questions (the founding notebook's last step).

    python -m qa_models.ask CHECKPOINT --context TEXT --question TEXT
    python -m qa_models.ask CHECKPOINT --probes fixtures/probes.json

Works with any adapter's checkpoint (span or generative, full weights or a LoRA adapter).
The answer is cut from the context; "unanswerable" is printed when the model's no-answer
probability is above the threshold (the one tuned on validation, read from the bench
run's metrics.json when given, else --threshold).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .adapters import load_adapter
from .data import Example, load_probes
from .metrics import apply_na_threshold


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa_models.ask", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="folder written by a bench run (.cache/checkpoints/<model>-<key>/checkpoint) or adapter.save()")
    parser.add_argument("--context", help="the passage that holds the answer")
    parser.add_argument("--question", help="the question about the passage")
    parser.add_argument("--probes", help="a probes JSON file (fixtures/probes.json format) to answer instead of one question")
    parser.add_argument("--threshold", type=float, default=None,
                        help="no-answer probability above which the answer is empty (default: from --metrics, else 0.5)")
    parser.add_argument("--metrics", help="a bench run's <model>/metrics.json, whose tuned threshold is used")
    parser.add_argument("--json", action="store_true", help="print one JSON object per question instead of text")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.probes:
        examples = [p.as_example() for p in load_probes(args.probes)]
    elif args.context and args.question:
        examples = [Example("question", "", args.context, args.question, (), False)]
    else:
        print("error: give --context and --question, or --probes FILE", file=sys.stderr)
        return 2
    threshold = args.threshold
    if threshold is None and args.metrics:
        threshold = json.loads(Path(args.metrics).read_text())["threshold"]
    if threshold is None:
        threshold = 0.5
    try:
        adapter = load_adapter(args.checkpoint)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    predictions = adapter.predict(examples, batch_size=16)
    answers = apply_na_threshold(predictions.answers, predictions.na_probs, threshold)
    for example in examples:
        record = {
            "id": example.id,
            "question": example.question,
            "answer": answers[example.id],
            "score": predictions.scores.get(example.id),
            "na_prob": predictions.na_probs[example.id],
            "unanswerable": answers[example.id] == "",
        }
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            shown = record["answer"] if record["answer"] else "(unanswerable)"
            print(f"Q: {example.question}\nA: {shown}    [na_prob {record['na_prob']:.3f}, threshold {threshold:.3f}]\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
