"""Does a checkpoint fail to abstain because it cannot find the span, or because it cannot judge it?

    python docs/experiments/issue26/plausible_answers.py CHECKPOINT [--file VALIDATION.json]

SQuAD v2 gives every unanswerable question the span its writer had in mind when making it
unanswerable (``plausible_answers``: the entity of a negated or swapped question, say). The
script predicts the file's questions with the checkpoint and compares, on each kind, the
model's best non-empty span (``Predictions.answers``, before any threshold) with the target:
the gold answers of answerable questions, the plausible answers of unanswerable ones. Then it
prints the no-answer AUROC twice: over all questions, and over those whose best span matches
its target (token F1 >= 0.5). When the model finds the plausible span of unanswerable questions
as often as the gold span of answerable ones, and its no-answer score still cannot separate the
two among the questions where it found the target, the reading is not what fails: the model
cannot tell a question the span answers from a near copy that it does not. Validation only:
the default file is the validation slice, never test.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from qa_models import metrics
from qa_models.adapters import load_adapter
from qa_models.data import load_examples

FOUND = 0.5
"""Token F1 from which a best span counts as the target found."""


def plausible_answers(path: str) -> dict[str, list[str]]:
    """Question id -> plausible answer texts of the unanswerable questions of a SQuAD v2 file."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)["data"]
    return {
        qa["id"]: [a["text"] for a in qa.get("plausible_answers", [])]
        for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"] if qa.get("is_impossible")
    }


def best_f1(prediction: str, targets: list[str]) -> float:
    return max((metrics.token_f1(t, prediction) for t in targets), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="folder of a saved qabench checkpoint")
    default_file = os.path.join(os.environ.get("QABENCH_DATA_DIR", "../shared/data"), "squad_v2/dev-v2.0-val.json")
    parser.add_argument("--file", default=default_file, help="a SQuAD v2 file with plausible_answers (default: the validation slice)")
    parser.add_argument("--batch-size", type=int, default=64, help="prediction batch size (default 64)")
    args = parser.parse_args()

    examples = list(load_examples(args.file).examples)
    plausible = plausible_answers(args.file)
    predictions = load_adapter(args.checkpoint).predict(examples, batch_size=args.batch_size)
    has_answer = {e.id: bool(e.gold_texts) for e in examples}
    targets = {e.id: list(e.gold_texts) if e.gold_texts else plausible.get(e.id, []) for e in examples}
    overlap = {q: best_f1(predictions.answers[q], targets[q]) for q in has_answer if targets[q]}

    for kind, wanted in (("answerable (gold answers)", True), ("unanswerable (plausible answers)", False)):
        scores = np.array([f for q, f in overlap.items() if has_answer[q] is wanted])
        na = np.array([predictions.na_probs[q] for q in overlap if has_answer[q] is wanted])
        found = scores >= FOUND
        print(f"{kind}: {len(scores)} questions, best span's token F1 with the target {scores.mean() * 100:.1f}, "
              f"target found (F1 >= {FOUND}) {found.mean() * 100:.1f}%; median na_prob "
              f"{np.median(na[found]):.3g} where found, {np.median(na[~found]):.3g} where not")
    print(f"no-answer AUROC, all {len(has_answer)} questions: {metrics.no_answer_auroc(has_answer, predictions.na_probs):.3f}")
    found_ids = [q for q, f in overlap.items() if f >= FOUND]
    print(f"no-answer AUROC, the {len(found_ids)} questions whose best span is the target: "
          f"{metrics.no_answer_auroc({q: has_answer[q] for q in found_ids}, predictions.na_probs):.3f}")


if __name__ == "__main__":
    main()
