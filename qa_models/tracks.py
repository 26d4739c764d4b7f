"""A track: one benchmark's data conventions and official metric, as one object.

Everything that differs between SQuAD v2.0 and CMRC 2018 is a field here: how answers
are scored (whole set and per question), whether the data has unanswerable questions (so
a no-answer threshold is tuned on validation and the abstention diagnostics apply), the
question the report answers, and the track whose test set a model trained here is also
scored on. The runner, ``measure`` and the report ask the track; none compares a track's
name. A third track is one more ``Track`` in ``TRACKS`` plus its data in the profiles.

Pure: ``metrics`` only, no torch or transformers, so ``config`` can name the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import metrics

Gold = Mapping[str, list[str]]
Answers = Mapping[str, str]


@dataclass(frozen=True)
class Track:
    name: str
    """The key of ``TRACKS`` and the value of ``DataSpec.track`` and ``--qa-track``."""
    title: str
    """How the report and messages name the benchmark."""
    question: str
    """The report's question for a run on this track (``run.question`` in results.json)."""
    metric: str
    """The official metric, named as the report and ``python -m qa_models.evaluate --metric`` do."""
    scorer: Callable[..., dict]
    """``scorer(gold, answers, allow_missing=...)`` (and ``na_probs=`` where ``has_threshold``):
    the official report, percentages, with ``exact``, ``f1`` and ``total``."""
    per_question: Callable[[Gold, Answers], tuple[dict[str, int], dict[str, float]]]
    """EM and F1 (F1 in [0, 1]) of every question, as the official metric counts them."""
    has_threshold: bool
    """The data has unanswerable questions: a no-answer threshold is tuned on validation (best
    F1) and applied to test, and the abstention diagnostics are measured. Without them a
    model always answers (threshold infinite) and there is nothing to abstain on."""
    cross_lingual: str | None = None
    """The track whose test questions a checkpoint trained here is also scored on, with that
    track's metric (``DataSpec.cross_lingual_test``); None: no such row."""

    def score(self, gold: Gold, answers: Answers, na_probs: Mapping[str, float] | None = None) -> dict[str, float]:
        """The official metric on final answers; ``na_probs`` adds the best-threshold sweep
        on a track with a threshold and is ignored on one without."""
        if self.has_threshold:
            return self.scorer(gold, answers, na_probs=na_probs)
        return self.scorer(gold, answers)


def _official_gold(gold: Gold) -> dict[str, list[str]]:
    """Gold lists as the official SQuAD scorer sees them: an unanswerable question's gold is [""]."""
    return {qid: (texts if any(metrics.normalize_answer(t) for t in texts) else [""]) for qid, texts in gold.items()}


def _squad_per_question(gold: Gold, answers: Answers) -> tuple[dict[str, int], dict[str, float]]:
    return metrics.per_question_scores(_official_gold(gold), answers)


SQUAD_V2 = Track(
    name="squad_v2",
    title="SQuAD v2.0",
    question="For extractive QA on SQuAD v2.0, which model wins on F1, and what does each cost?",
    metric="official SQuAD v2.0 EM/F1 with HasAns/NoAns breakdown",
    scorer=metrics.squad_v2_scores,
    per_question=_squad_per_question,
    has_threshold=True,
    cross_lingual="cmrc2018",
)

CMRC2018 = Track(
    name="cmrc2018",
    title="CMRC 2018",
    question="For Chinese extractive QA (CMRC 2018), which model wins on F1, and what does each cost?",
    metric="Chinese EM/F1 on character segmentation with longest-common-substring F1",
    scorer=metrics.cmrc2018_scores,
    per_question=metrics.cmrc2018_per_question,
    has_threshold=False,
)

TRACKS: dict[str, Track] = {track.name: track for track in (SQUAD_V2, CMRC2018)}
"""Every track, by name. The first is the default."""

DEFAULT_TRACK = SQUAD_V2.name


def get_track(name: str) -> Track:
    """The track called ``name``; an unknown name lists the known ones."""
    try:
        return TRACKS[name]
    except KeyError:
        raise ValueError(f"unknown track {name!r}; choose one of {list(TRACKS)}") from None
