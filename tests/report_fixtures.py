"""Shared builders of the report tests (test_report*.py): synthetic results and Markdown readers.

Not a test module. The results are seeded, so no model, GPU or data set is needed. The
``written`` fixture (one report of the default results per module) is in conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from qa_models.results import (
    InferenceRecord,
    ModelResult,
    Parameters,
    ProbeAnswer,
    QuestionRow,
    Results,
    RunMetadata,
    TrainRecord,
    to_json_dict,
)


REPO = Path(__file__).resolve().parents[1]

# (question template, gold answer) pairs covering every question type and length bucket.
_QUESTIONS = [
    ("What is the capital of region {i}?", "Paris"),
    ("Who founded settlement {i}?", "William the Conqueror"),
    ("When was treaty {i} signed?", "in 1066"),
    ("Where did expedition {i} land?", "on the northern coast of Sicily"),
    ("Which river runs through town {i}?", "the Seine"),
    ("How many soldiers fought in battle {i}?", "about 7,000"),
    ("How much did bridge {i} cost?", "two million British pounds"),
    ("How did army {i} cross the channel?", "by ship across the narrow strait to the English coast at night"),
    ("Why did king {i} abdicate?", "because of a long dispute with the barons over taxes and the rights of the church"),
    ("Name the poet of anthology {i}.", "Wace"),
]


def make_typed_results(
    models: tuple[tuple[str, float], ...] = (("bert-span", 0.70), ("llama3-lora", 0.85), ("qwen-zero-shot", 0.40)),
    n: int = 200,
    seed: int = 0,
    run_id: str = "synthetic-run",
) -> Results:
    """Valid schema-2 results: per model, per-question rows drawn with accuracy ``p``.

    The official metrics are computed from the rows so they agree with the bootstrap means.
    A model whose name contains "zero-shot" gets no training record. The optional
    measurement sections (abstention, coverage, cross_lingual, speed) are left unmeasured.
    """
    rng = np.random.default_rng(seed)
    questions = []
    for i in range(n):
        template, gold = _QUESTIONS[i % len(_QUESTIONS)]
        has_answer = rng.random() < 2 / 3
        questions.append({"id": f"q{i:04d}", "question": template.format(i=i), "has_answer": bool(has_answer),
                          "gold": [gold] if has_answer else []})
    out_models = [_model_row(k, name, p, questions, seed) for k, (name, p) in enumerate(models)]
    run = RunMetadata(
        run_id=run_id, profile="synthetic", track="squad_v2",
        question="For extractive QA on SQuAD v2.0, which model wins on F1, and at what cost?",
        started="2025-01-01T00:00:00", finished="2025-01-01T03:00:00", seed=42, git_commit="abc1234",
        environment={"python": "3.11.7", "torch": "2.5.0", "transformers": "5.0.0", "peft": "0.17.0",
                     "bitsandbytes": "0.45.0", "datasets": "3.0.0", "cuda": "12.4", "gpu_name": "NVIDIA H100 80GB HBM3",
                     "gpu_memory_bytes": 80 * 2**30, "driver": "550.54", "cpu": "Intel Xeon", "cpu_count": 16,
                     "platform": "Linux-x86_64"},
        data_files={"train": {"source": "train-v2.0.json", "sha256": "a" * 64, "n_examples": 130319},
                    "test": {"source": "dev-v2.0.json", "sha256": None, "n_examples": n}},
        skipped_records={"answer_not_in_context": 2}, repaired_offsets=5, dropped_answers=0, train_spec={},
    )
    return Results(run=run, models=out_models)


def _model_row(k: int, name: str, p: float, questions: list[dict], seed: int) -> ModelResult:
    # [seed, k] with k=0 would seed the same stream as `seed` alone (numpy pads with
    # zeros), tying model 0's answers to the has_answer draws; 1 + k avoids that.
    mrng = np.random.default_rng([seed, 1 + k])
    rows = []
    for q in questions:
        correct = mrng.random() < p
        if q["has_answer"]:
            pred = q["gold"][0] if correct else "wrong | answer"
            f1 = 1.0 if correct else float(mrng.choice([0.0, mrng.uniform(0.1, 0.8)]))
        else:
            pred = "" if correct else "a spurious span"
            f1 = 1.0 if correct else 0.0
        rows.append({**q, "prediction": pred, "exact": int(correct), "f1": f1})
    frame = pd.DataFrame(rows)
    has, no = frame[frame.has_answer], frame[~frame.has_answer]
    test = {"exact": 100 * frame.exact.mean(), "f1": 100 * frame.f1.mean(), "total": len(frame),
            "HasAns_exact": 100 * has.exact.mean(), "HasAns_f1": 100 * has.f1.mean(), "HasAns_total": len(has),
            "NoAns_exact": 100 * no.exact.mean(), "NoAns_f1": 100 * no.f1.mean(), "NoAns_total": len(no)}
    zero_shot = "zero-shot" in name
    big = "bert" not in name
    train = None
    if not zero_shot:
        train = TrainRecord(
            epochs=2.0, learning_rate=2e-4 if big else 3e-5, batch_size=4 if big else 16,
            wall_time_s=7200.0 if big else 1800.0, examples_per_s=12.5 if big else 80.0,
            tokens_per_s=5000.0 if big else 30000.0, peak_memory_bytes=int((22 if big else 6) * 2**30),
            memory_kind="cuda", device="cuda:0", device_kind="cuda", cached=False,
            history={
                "loss": [{"step": s, "epoch": s / 50, "loss": (5.5 if not big else 1.6) * np.exp(-s / 40) + 0.3}
                         for s in range(10, 101, 10)],
                "eval": [{"epoch": e, "eval_loss": (1.2 / e) if big else None,
                          "exact": 100 * p - 12 / e, "f1": 100 * p - 8 / e} for e in (1.0, 2.0, 3.0)],
            },
        )
    return ModelResult(
        name=name, model_id=f"org/{name}", family="bert" if not big else "llama3",
        method="generative" if big else "span", quantize="4bit" if big else "none", zero_shot=zero_shot, lora=None,
        parameters=Parameters(total=8_030_000_000 if big else 110_000_000,
                              trainable=42_000_000 if big and not zero_shot else (0 if zero_shot else 110_000_000)),
        train=train, cost_estimate=None, threshold=0.5,
        validation={**test, "f1": test["f1"] + 1.0}, test=test,
        test_per_question=[QuestionRow(**r) for r in rows],
        inference=InferenceRecord(questions_per_s=8.0 if big else 250.0, test_questions=len(rows), batch_size=8,
                                  device="cuda:0", latency_p50_s=0.2 if big else 0.01,
                                  latency_p95_s=0.4 if big else 0.02, latency_rounds=20),
        probes=[
            ProbeAnswer(id="normans", lang="en", question="Who were the Normans?", context="The Normans were ...",
                        answer="Norse | Frankish people" if k == 0 else "descendants of Norse raiders",
                        span_if_answering="", na_prob=0.05 + 0.1 * k, documented_bert_answer="[UNK] people",
                        expected_answer=None),
            ProbeAnswer(id="zh-1", lang="zh", question="谁建立了诺曼底公国？", context="……", answer="",
                        span_if_answering="罗洛" if k == 0 else "", na_prob=0.9, documented_bert_answer="",
                        expected_answer=None),
        ],
        prediction={"snapped_answers": 3 * k, "no_answer_replies": 10 + k},
    )


def make_results(*args, **kwargs) -> dict:
    """:func:`make_typed_results` as its results.json object (the form tests edit in place)."""
    return to_json_dict(make_typed_results(*args, **kwargs))


def _md_section(md: str, heading: str) -> str:
    """The Markdown from ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = md.index(heading + "\n")
    rest = md[start + len(heading) + 1:]
    ends = [i for i in (rest.find(f"\n{'#' * n} ") for n in range(1, len(level) + 1)) if i >= 0]
    return rest[: min(ends)] if ends else rest


def _table_rows(section: str) -> list[list[str]]:
    """Cells of the first pipe table in ``section`` (header and separator dropped)."""
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[2:]]
