"""The seed profile's real tokenizers (bert-base-uncased's WordPiece, Llama-3-Instruct, Qwen
ChatML) on the shared SQuAD v2 files: span labels decode back to the gold answers in each row's
layout, prompts rendered with the real chat templates are well formed, and the committed token
counts (docs/seed_token_stats.json) are what ``qa_models.tokenizer_check`` measures.

The tokenizers and SQuAD files come from the shared data folder ($QABENCH_DATA_DIR or
../shared/data); without it every test here skips with a message. The command runs the full
files (``python -m qa_models.tokenizer_check --profile seed``); these tests use seeded samples.
"""

from __future__ import annotations

import pytest

from qa_models import tokenizer_check as tc
from qa_models.data import sample_examples
from qa_models.profiles import shared_data_dir

SPAN_SAMPLE = 500
PROMPT_SAMPLE = 40
FAMILIES = ("bert", "llama3", "qwen")
DATA_KINDS = {tc.GOLD_IN_WORD, tc.TOO_LONG, tc.NO_WINDOW}


def _rows_or_skip() -> dict[str, tc.TokenizerRows]:
    try:
        return {r.family: r for r in tc.profile_tokenizers("seed")}
    except tc.TokenizerCheckError as error:
        pytest.skip(f"real tokenizers unavailable: {error}")


@pytest.fixture(scope="module")
def rows() -> dict[str, tc.TokenizerRows]:
    return _rows_or_skip()


@pytest.fixture(scope="module")
def train_examples():
    try:
        examples, _ = tc.load_file(tc.TRAIN_FILE)
    except tc.TokenizerCheckError as error:
        pytest.skip(f"shared SQuAD v2 train file unavailable ({shared_data_dir()}): {error}")
    return examples


@pytest.fixture(scope="module")
def round_trips(rows, train_examples) -> dict[str, tc.RoundTrip]:
    sample = sample_examples(train_examples, SPAN_SAMPLE, seed=1)
    out = {}
    for family in FAMILIES:
        spec = rows[family].spec("span")
        out[family] = tc.span_round_trip(tc.load_tokenizer(rows[family].source, spec), sample, spec)
    return out


def test_each_span_row_reads_its_own_layout(rows):
    bert, llama, qwen = (rows[f].spec("span") for f in FAMILIES)
    assert bert.question_first and bert.no_answer_position == "first"
    for spec in (llama, qwen):
        assert not spec.question_first and spec.no_answer_position == "last"


@pytest.mark.parametrize("family", FAMILIES)
def test_span_labels_decode_back_to_the_gold_answer(round_trips, family):
    result = round_trips[family]
    assert result.answerable > 300
    # The thresholds hold on every answer a whole-token span can reproduce; what is left
    # over must be the data's own kinds (a gold cut inside a word, an over-long answer).
    assert result.reachable >= 0.98 * result.answerable, result.failures
    assert result.reachable_exact_stripped / result.reachable >= 0.995, (result.failures, result.shown)
    assert result.reachable_normalized_any == result.reachable, result.shown
    assert tc.passes(result)
    unexplained = {kind: n for kind, n in result.failures.items() if kind not in DATA_KINDS}
    assert sum(unexplained.values()) <= 0.005 * result.answerable, result.shown


@pytest.mark.parametrize("family", ["llama3", "qwen"])
def test_byte_level_offsets_no_longer_carry_the_leading_space(round_trips, family):
    # Before the fix 77 % of these tokenizers' answers came back as " Moon" for "Moon".
    result = round_trips[family]
    assert result.exact_raw == result.exact_stripped


def test_answer_edges_of_real_byte_level_tokens(rows):
    """"(59%), x" and "Sino-Tibetan": the marks a BPE token glues to a word or to each other."""
    from qa_models.config import override
    from qa_models.data import Answer, Example
    from qa_models.features import label_train_windows
    from qa_models.postprocess import decode_spans

    context = 'Christianity (59%), followed by the Sino-Tibetan border and "B.I.C." on it, The Moon.'
    golds = ["59%", "Tibetan", "Moon"]
    examples = [
        Example(f"q{i}", "t", context, "What?", (Answer(g, context.index(g)),), False) for i, g in enumerate(golds)
    ]
    for family in ("llama3", "qwen"):
        spec = override(rows[family].spec("span"), max_seq_length=64, doc_stride=16)
        windows = label_train_windows(tc.load_tokenizer(rows[family].source, spec), examples, spec)
        logits = tc.one_hot_logits(windows.start_positions, windows.end_positions, windows.offsets.shape[1])
        decoded, _, _ = decode_spans(*logits, windows.offsets, windows.example_index, windows.null_index,
                                     [context] * len(examples))
        assert decoded == golds, family


@pytest.fixture(scope="module")
def prompt_examples(train_examples):
    sample = sample_examples(train_examples, PROMPT_SAMPLE, seed=2)
    assert any(e.is_impossible for e in sample) and any(not e.is_impossible for e in sample)
    return sample


@pytest.mark.parametrize("family", ["llama3", "qwen"])
def test_real_chat_template_prompts(rows, prompt_examples, family):
    from qa_models.prompts import IGNORE_INDEX, encode, encode_for_training, encode_prompts, end_of_turn_id

    spec = rows[family].spec("generative")
    tokenizer = tc.load_tokenizer(rows[family].source, spec)
    eot = end_of_turn_id(tokenizer, spec)
    assert tokenizer.convert_ids_to_tokens(eot) == {"llama3": "<|eot_id|>", "qwen": "<|im_end|>"}[family]
    assert tokenizer.pad_token_id is not None and tokenizer.pad_token_id != eot

    prompts, _ = encode_prompts(tokenizer, prompt_examples, spec)
    bos = tokenizer.bos_token_id
    for ids in prompts:
        if family == "llama3":
            # The template writes <|begin_of_text|>; encoding must not add a second one.
            assert ids.count(bos) == 1 and ids[0] == bos
        else:
            # Qwen ChatML has no BOS: the prompt opens with the template's <|im_start|>.
            assert bos is None and ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
        assert eot in ids  # the system and user turns are closed
        assert len(ids) <= spec.max_seq_length

    encoded = encode_for_training(tokenizer, prompt_examples, spec)
    no_answer = encode(tokenizer, spec.no_answer_text + spec.end_of_turn_token)
    for example, ids, labels in zip(prompt_examples, encoded.input_ids, encoded.labels):
        target = [t for t, label in zip(ids, labels) if label != IGNORE_INDEX]
        assert target[-1] == eot and target.count(eot) == 1
        assert ids.count(bos) == (1 if bos is not None else 0)
        if example.is_impossible:
            assert target == no_answer
        else:
            text = tokenizer.decode(target[:-1])
            assert text.strip() == example.answers[0].text.strip()


def test_committed_token_counts_are_what_the_command_measures(rows, train_examples):
    """docs/seed_token_stats.json keeps the stats of a seeded 200-question sample beside the full
    file's; recomputing that sample must give the same numbers, or the JSON is stale."""
    stats = tc.read_stats()
    path = shared_data_dir() / stats["train_file"]
    assert tc.file_sha256(path) == stats["train_sha256"], f"train file changed; regenerate: {tc.STATS_COMMAND}"
    fresh = tc.measure_stats(list(rows.values()), train_examples, path, tc.CHECK_SAMPLE_SIZE)
    assert fresh == stats["check_sample"], f"stale token counts; regenerate: {tc.STATS_COMMAND}"
    full = stats["full"]
    assert full["questions"] == len(train_examples)
    for label, entry in full["tokenizers"].items():
        for row, values in entry["rows"].items():
            sample = fresh["tokenizers"][label]["rows"][row]
            # A seeded sample of 200 reads the same distribution as the whole file.
            assert abs(sample["training_tokens_per_question"] / values["training_tokens_per_question"] - 1) < 0.1, row
