"""``python -m qa_models.cost --profile seed``: projections from the committed measured token
counts (docs/seed_token_stats.json), never from an assumed length; needs no shared data."""

from __future__ import annotations

import pytest

from qa_models import cost, tokenizer_check


@pytest.fixture(scope="module")
def stats():
    return tokenizer_check.read_stats()


def test_each_row_is_projected_from_its_own_measured_tokens(stats):
    rows = cost.measured_seed_projections(stats, ["L4", "cpu"], questions=1000, rows=["bert-base-span", "llama3-8b-generative"])
    by = {(r["model"], r["gpu"]): r for r in rows}
    for model in ("bert-base-span", "llama3-8b-generative"):
        measured = cost.measured_row_stats(stats, model)
        row = by[(model, "L4")]
        assert row["tokens_per_epoch"] == round(measured["training_tokens_per_question"] * 1000)
        assert row["seq_len_for_memory"] == measured["sequence_length"]["max"]
        assert row["time_basis"].startswith("assumed")
    # The chat template and system prompt make a generative question cost more tokens than its span windows.
    assert by[("llama3-8b-generative", "L4")]["tokens_per_question"] > by[("bert-base-span", "L4")]["tokens_per_question"]
    cpu = by[("bert-base-span", "cpu")]
    assert cpu["time_basis"] == "CPU anchor" and cpu["runs_here"]
    # bert-base on the CPU: its FLOPs at the anchor's measured model FLOP/s.
    assert cpu["hours"] * 3600 == pytest.approx(cpu["flops"] / cost.cpu_anchor_flops_per_s(), rel=1e-9)
    assert not by[("llama3-8b-generative", "cpu")]["runs_here"]  # QLoRA needs CUDA


def test_command_prints_the_table_and_names_unknown_devices(capsys):
    assert cost.main(["--profile", "seed", "--device", "H100", "--questions", "1000"]) == 0
    out = capsys.readouterr().out
    assert "qwen1.5-7b-span" in out and "H100-SXM" in out and "measured" in out.lower()
    assert cost.main(["--device", "TPU"]) == 2
    assert "unknown device" in capsys.readouterr().err


def test_missing_stats_name_the_command_that_writes_them(tmp_path, capsys):
    assert cost.main(["--stats", str(tmp_path / "none.json")]) == 2
    assert tokenizer_check.STATS_COMMAND in capsys.readouterr().err
