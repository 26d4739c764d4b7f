"""Does a checkpoint rank unanswerable questions by reading, or by the article they come from?

    python docs/experiments/issue26/topic_prior.py CHECKPOINT [--file TRAIN.json] [--n 1000]

Predicts a seeded sample of training questions with the checkpoint and prints the no-answer
AUROC three ways: over all the questions; within each article that has both kinds (weighted
mean); and of the article's own unanswerable share, with no model at all. When the model's
overall AUROC is close to the article share's and far above its within-article AUROC, it has
learned which articles hold unanswerable questions, which does not carry to new articles.
The issue-26 diagnosis in the README came from this script.
"""

from __future__ import annotations

import argparse
import collections
import os
import random

import numpy as np

from qa_models import metrics
from qa_models.adapters import load_adapter
from qa_models.data import load_examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="folder of a saved qabench span checkpoint")
    default_file = os.path.join(os.environ.get("QABENCH_DATA_DIR", "../shared/data"), "squad_v2/train-mixed-29-articles.json")
    parser.add_argument("--file", default=default_file, help="training file the checkpoint saw (default: the shared mixed file)")
    parser.add_argument("--n", type=int, default=1000, help="questions sampled from it (seed 0; default 1000)")
    args = parser.parse_args()

    examples = list(load_examples(args.file).examples)
    random.Random(0).shuffle(examples)
    examples = examples[: args.n]
    predictions = load_adapter(args.checkpoint).predict(examples)
    has_answer = {e.id: bool(e.gold_texts) for e in examples}
    print(f"no-answer AUROC, all {len(examples)} questions: {metrics.no_answer_auroc(has_answer, predictions.na_probs):.3f}")
    for part in ("span_na_scores", "verifier_na_scores"):
        if part in predictions.extra:
            print(f"  {part} alone: {metrics.no_answer_auroc(has_answer, predictions.extra[part]):.3f}")

    by_article = collections.defaultdict(list)
    for e in examples:
        by_article[e.title].append(e)
    within = []
    for questions in by_article.values():
        kinds = {e.id: has_answer[e.id] for e in questions}
        if 0 < sum(kinds.values()) < len(kinds):
            within.append((len(kinds), metrics.no_answer_auroc(kinds, {q: predictions.na_probs[q] for q in kinds})))
    weights = [n for n, _ in within]
    print(f"within-article AUROC, {len(within)} articles with both kinds ({sum(weights)} questions): "
          f"{np.average([a for _, a in within], weights=weights):.3f}")
    share = {e.id: 1 - np.mean([has_answer[x.id] for x in by_article[e.title]]) for e in examples}
    print(f"AUROC of the article's unanswerable share alone (no model): {metrics.no_answer_auroc(has_answer, share):.3f}")


if __name__ == "__main__":
    main()
