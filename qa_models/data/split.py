"""Choose which examples a run uses: seeded samples, and a train/validation split by article.

Everything here is seeded and keeps input order, so the same data and seed always give
the same examples in the same order, whatever machine runs them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from .records import Example


def sample_examples(examples: Sequence[Example], n: int | None, seed: int) -> list[Example]:
    """A seeded random subset of ``n`` examples, kept in input order (all of them if ``n`` is None
    or not smaller).

    Random rather than the first N: SQuAD files are ordered by article, and in the shared
    train slice every unanswerable question sits in two articles in the middle, so "the first
    1,500" would train a model that has never seen an unanswerable question.
    """
    if n is None or n >= len(examples):
        return list(examples)
    keep = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in keep]


def sample_examples_stratified(examples: Sequence[Example], n: int, seed: int, unanswerable_share: float) -> list[Example]:
    """A seeded subset of ``n`` examples of which ``round(n * unanswerable_share)`` are
    unanswerable, kept in input order.

    Raises ``ValueError`` naming both counts when the file holds too few questions of either
    kind: a silently smaller share would change the experiment behind the user's back.
    """
    unanswerable = [i for i, e in enumerate(examples) if not e.gold_texts]
    answerable = [i for i, e in enumerate(examples) if e.gold_texts]
    n = min(n, len(examples))
    n_unanswerable = round(n * unanswerable_share)
    if n_unanswerable > len(unanswerable) or n - n_unanswerable > len(answerable):
        raise ValueError(
            f"a training sample of {n} with unanswerable share {unanswerable_share} needs {n_unanswerable} "
            f"unanswerable and {n - n_unanswerable} answerable questions; the data has {len(unanswerable)} and "
            f"{len(answerable)}. Lower --qa-max-train-samples or the share."
        )
    rng = random.Random(seed)
    keep = sorted(rng.sample(unanswerable, n_unanswerable) + rng.sample(answerable, n - n_unanswerable))
    return [examples[i] for i in keep]


def balance_answer_kinds_by_article(examples: Sequence[Example], seed: int) -> list[Example]:
    """Per article, as many answerable as unanswerable questions (seeded), kept in input order;
    articles with only one kind are dropped.

    In the shared mixed train file 8 of 29 articles have no unanswerable question, so the
    topic alone predicts the kind: on 1,000 of its training questions the article's
    unanswerable share ranks them at AUROC 0.83, and all-MiniLM-L6-v2 after one epoch at 0.85,
    but only 0.67 within an article and 0.58 on the validation articles (issue 26). With every
    article half and half, the topic tells nothing and only the question and context can.
    """
    by_article: dict[str, tuple[list[int], list[int]]] = {}
    for i, e in enumerate(examples):
        kinds = by_article.setdefault(e.title, ([], []))
        kinds[0 if e.gold_texts else 1].append(i)
    rng = random.Random(seed)
    keep: list[int] = []
    for title in sorted(by_article):
        answerable, unanswerable = by_article[title]
        n = min(len(answerable), len(unanswerable))
        keep += rng.sample(answerable, n) + rng.sample(unanswerable, n)
    return [examples[i] for i in sorted(keep)]


def split_by_article(
    examples: Sequence[Example], validation_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Split examples into (train, validation) by article title.

    All questions of one article land on the same side, because questions about the same
    paragraph share so much text that splitting them would leak answers into validation.
    Articles are the distinct titles, sorted and then shuffled with ``random.Random(seed)``,
    so the split depends only on the titles and the seed (not on input order). Validation
    gets ``round(validation_fraction * n_articles)`` articles (halves round up), at least
    one when the fraction is above 0 and at most ``n_articles - 1`` so that training is
    never empty. Both lists keep the input order.

    Raises:
        ValueError: if the fraction is outside [0, 1) or there are fewer than 2 articles.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    titles = sorted({e.title for e in examples})
    if len(titles) < 2:
        raise ValueError(
            f"split_by_article needs at least 2 articles (distinct titles), got {len(titles)}; "
            "pass a separate validation file instead"
        )
    n_val = math.floor(validation_fraction * len(titles) + 0.5)
    if validation_fraction > 0:
        n_val = min(max(n_val, 1), len(titles) - 1)
    random.Random(seed).shuffle(titles)
    val_titles = set(titles[:n_val])
    train = [e for e in examples if e.title not in val_titles]
    validation = [e for e in examples if e.title in val_titles]
    return train, validation
