"""The no-answer decision end to end, on data where it is easy by construction.

Every real row so far ranked unanswerable questions at chance (AUROC 0.5 to 0.6). Before
blaming the data or the recipe, this rules out the pipeline: here an unanswerable question
asks about a person who appears in no context at all, so a model that reads its input can
tell the two kinds apart. If the training labels, the null position of the row's layout,
the aggregation over windows (lowest null score, best span) or the threshold tuned on
validation dropped that signal, a short training of a tiny random model could not rank
the questions almost perfectly, nor abstain on held-out unanswerable questions only.
"""

from __future__ import annotations

import random

import pytest

from qa_models import metrics, runner
from qa_models.adapters import create_adapter
from qa_models.config import ModelSpec, TrainSpec
from qa_models.data import Answer, Example

pytestmark = pytest.mark.usefixtures("torch_single_thread")

PEOPLE = ("anna", "boris", "carla", "dmitri", "elena", "felix", "greta", "hugo")
"""Named in the contexts: questions about them are answerable."""
STRANGERS = ("zorba", "quincy", "xavier", "yolanda", "wendell", "ursula", "vance", "thaddeus")
"""Named in no context: questions about them are unanswerable, whatever the context says."""
PLACES = ("paris", "lima", "oslo", "cairo", "delhi", "tokyo", "quito", "dakar", "hanoi", "sofia")
FILLER = (
    "the river runs past the old mill and the market square",
    "many visitors come in the summer to see the bridge",
    "the school was built of stone in the last century",
    "a small museum keeps maps letters and paintings",
    "the railway reached the valley after a long dispute",
)


def _examples(n: int, seed: int) -> list[Example]:
    """``n`` questions, half unanswerable, each context long enough to need several windows,
    with the one sentence that holds the answer at a random place among the filler."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        person, place = rng.choice(PEOPLE), rng.choice(PLACES)
        sentences = [rng.choice(FILLER) + "." for _ in range(6)]
        fact = f"{person} was born in {place}."
        sentences.insert(rng.randrange(len(sentences) + 1), fact)
        context = " ".join(sentences)
        unanswerable = i % 2 == 1
        subject = rng.choice(STRANGERS) if unanswerable else person
        answers = () if unanswerable else (Answer(place, context.index(fact) + len(fact) - len(place) - 1),)
        out.append(Example(id=f"q{seed}-{i}", title=f"t{i % 4}", context=context,
                           question=f"where was {subject} born?", answers=answers, is_impossible=unanswerable))
    return out


def _layout(kind: str, model_id: str) -> ModelSpec:
    """Each row's own layout: BERT question-first with [CLS] as the null; decoders context-first
    with the null at the last token. Fully fine-tuned: the pipeline is under test here, not what
    LoRA can do on a random backbone (with LoRA r 8 the tiny Llama ranked at AUROC 0.67 to 0.88,
    depending on learning rate and epochs; fully tuned, 1.0)."""
    windows = dict(max_seq_length=48, doc_stride=16)
    if kind == "bert":
        return ModelSpec(name="abstain-bert", model_id=model_id, **windows)
    if kind == "bert-verifier":
        # The answerability head alone decides (weight 1): its labels, null position and
        # aggregation over windows must carry the signal by themselves.
        return ModelSpec(name="abstain-bert-verifier", model_id=model_id, answerability_head=True, verifier_weight=1.0, **windows)
    return ModelSpec(name=f"abstain-{kind}", model_id=model_id, family=kind, method="span", question_first=False,
                     no_answer_position="last", **windows)


@pytest.mark.parametrize("kind", ["bert", "bert-verifier", "llama3", "qwen"])
def test_an_easy_no_answer_decision_is_learned_and_kept(tiny_model_paths, tmp_path, kind):
    train, validation, test = _examples(192, seed=1), _examples(64, seed=2), _examples(64, seed=3)
    spec = _layout(kind, str(tiny_model_paths[kind.split("-")[0]]))
    adapter = create_adapter(spec)
    windows = adapter.predict(test[:1]).extra["windows"]
    assert windows > 1, "the contexts must span several windows, or the aggregation over windows goes untested"

    # The tiny models learn the decision in one sudden step whose timing depends on float
    # rounding: at 6 epochs 1 of 28 runs here (seeds 0 to 12, 1 or 2 threads: Llama, seed 3)
    # and the CI machine's BERT run were still before it (AUROC 0.75 and 0.81, spans already
    # right); at 12 epochs 27 of 27 runs here reached 0.999 or more (2026-12-07).
    recipe = TrainSpec(epochs=12, learning_rate=3e-3, batch_size=16, logging_steps=5, warmup_ratio=0.0,
                       eval_every_epoch=False)
    adapter.train(train, [], recipe, tmp_path / "trainer")

    has_answer = {e.id: not e.is_impossible for e in test}
    predicted = adapter.predict(test)
    assert metrics.no_answer_auroc(has_answer, predicted.na_probs) >= 0.95

    # The threshold is tuned on validation, as in a run, and applied unchanged to test.
    threshold = runner.tune_threshold("squad_v2", validation, adapter.predict(validation))
    answers = metrics.apply_na_threshold(predicted.answers, predicted.na_probs, threshold)
    abstained_unanswerable = sum(answers[e.id] == "" for e in test if e.is_impossible) / 32
    # The best-F1 sweep loses nothing by abstaining on an answerable question whose span is wrong,
    # so only the questions the model answers correctly must stay answered. With the official
    # sweep's threshold (the low edge of the best range) the CI machine's BERT run kept only
    # 86% of them (2026-12-07): the middle of the range is what a run carries to test. (Each
    # process trains its own tiny WordPiece vocabulary: see tiny._bert_tokenizer.)
    correct = [e for e in test if not e.is_impossible and predicted.answers[e.id] in e.gold_texts]
    kept = sum(answers[e.id] != "" for e in correct) / max(len(correct), 1)
    assert len(correct) >= 16, f"the spans themselves were not learned: {len(correct)} of 32 right"
    assert abstained_unanswerable >= 0.9 and kept >= 0.9, (abstained_unanswerable, kept)
