"""The report's sections, one function each, in reading order; :func:`report_blocks` puts
them together. Every section returns blocks (``render``) and reads the results JSON object
(``schema``) and the per-model statistics (``frame``), never a file."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from ..formatting import DASH, format_duration, is_finite, is_number
from . import cells
from .answer import GLANCE_TEXT_COLUMNS, at_a_glance, diagnostics, headline
from .frame import MEASUREMENTS, SUBSETS, ModelStats, metric, scalar_fields, subset_prefix
from .plots import PLOT_FILES
from .render import Block, Heading, Image, List, Note, Para, Table
from .schema import is_zero_shot, num, section, train_of


def _title(run: dict, answer: str) -> list[Block]:
    return [Heading(1, f"qabench report: {run['run_id'] or 'unnamed run'}"),
            Para(f"**Question.** {run['question'] or 'No question recorded for this run.'}"),
            Para(f"**Answer.** {answer}")]


def _diagnostics(results: dict, stats: dict[str, ModelStats]) -> list[Block]:
    detail = diagnostics(results, _stats=stats)
    if detail.empty:
        return []
    return [Heading(3, "Diagnostics"), Table(detail, frozenset(detail.columns) - {"model"}),
            Note("Abstained: test questions answered \"no answer\" at the threshold tuned on validation. "
                 "F1 − abstaining everywhere: test F1 minus the F1 of answering \"\" to every test question, "
                 "with its paired bootstrap interval; above 0 only when the answers the model gives earn more "
                 "than the abstentions they replace. No-answer AUROC: how well the no-answer probability ranks unanswerable above answerable "
                 "questions (0.5 is chance). HasAns F1 never abstaining: answerable questions scored as if the "
                 "model always answered, its span quality alone.")]


def _glance(results: dict, stats: dict[str, ModelStats], n_resamples: int) -> list[Block]:
    glance = at_a_glance(results, _stats=stats)
    if glance.empty:
        return []
    return [Heading(2, "At a glance"), Table(glance, frozenset(glance.columns) - GLANCE_TEXT_COLUMNS),
            Note(f"Sorted by test F1, best first. Test F1 carries a 95% bootstrap CI over test questions "
                 f"({n_resamples} resamples); overlapping CIs do not separate two models, see the paired "
                 f"bootstrap below. Train time and peak memory are those of training (zero-shot rows train "
                 f"nothing); a CUDA peak and a CPU RSS are not comparable. Questions/s is throughput over the "
                 f"test set; latency p50 is the median time to answer one question asked alone.")]


def _run(run: dict, models: list[dict], tensorboard: tuple[str, list[str]] | None) -> list[Block]:
    rows = [["run id", run["run_id"]], ["profile", run["profile"]], ["track", run["track"]],
            ["started", run["started"]], ["finished", run["finished"]], ["seed", run["seed"]],
            ["git commit", run["git_commit"]]]
    rows = [[k, cells.text(v)] for k, v in rows] + [["models", ", ".join(m["name"] for m in models) or DASH]]
    B: list[Block] = [Heading(2, "Run"), Table(pd.DataFrame(rows, columns=["run", "value"]))]
    if tensorboard and tensorboard[1]:
        B.append(Para("**TensorBoard logs** (loss per logging step, validation EM/F1 per epoch): "
                      + ", ".join(f"`{name}/tb/`" for name in tensorboard[1])
                      + f"; view them with `tensorboard --logdir {tensorboard[0]}`."))
    return B


def _test_metric_rows(m: dict, st: ModelStats) -> list[list[str]]:
    rows = []
    for subset in SUBSETS:
        if subset not in st.ci and not any(k.startswith(subset_prefix(subset)) and k.endswith("f1") for k in m["test"]):
            continue
        ci = st.ci.get(subset, {})
        em, f1 = ci.get("exact", (math.nan,) * 3), ci.get("f1", (math.nan,) * 3)
        rows.append([m["name"], subset, str(st.n.get(subset, DASH)),
                     cells.fixed(metric(m, st, subset, "exact")), cells.interval(em[1], em[2]),
                     cells.fixed(metric(m, st, subset, "f1")), cells.interval(f1[1], f1[2])])
    return rows


def _test_metrics(models: list[dict], stats: dict[str, ModelStats], n_resamples: int, seed: int) -> list[Block]:
    B: list[Block] = [Heading(2, "Test metrics with 95% bootstrap CIs")]
    rows = [row for m in models for row in _test_metric_rows(m, stats[m["name"]])]
    if rows:
        B.append(Table(pd.DataFrame(rows, columns=["model", "subset", "n", "EM", "EM 95% CI", "F1", "F1 95% CI"]),
                       frozenset({"n", "EM", "EM 95% CI", "F1", "F1 95% CI"})))
    else:
        B.append(Note("No test metrics recorded."))
    B.append(Note(f"Point estimates are the official SQuAD-script numbers where recorded; CIs are percentile bootstraps "
                  f"over the per-question rows ({n_resamples} resamples, seed {seed}). HasAns / NoAns are the answerable "
                  f"and unanswerable questions; CMRC has no unanswerable questions and shows only the overall row."))
    for m in models:
        total, n = m["test"].get("total"), len(stats[m["name"]].frame)
        if is_finite(total) and n and n != total:
            B.append(Note(f"{m['name']}: {n} per-question rows but the official test total is {total}; "
                          f"its CIs cover the recorded rows only."))
    return B


def _validation(models: list[dict]) -> list[Block]:
    rows = [[m["name"], cells.prob(m["threshold"], 3), cells.fixed(num(m["validation"], "exact")),
             cells.fixed(num(m["validation"], "f1")), cells.text(m["validation"].get("total"))] for m in models]
    if any(is_finite(m["threshold"]) for m in models):
        return [Heading(3, "Validation (threshold tuned here)"),
                Table(pd.DataFrame(rows, columns=["model", "no-answer threshold", "EM", "F1", "n"]),
                      frozenset({"no-answer threshold", "EM", "F1", "n"}))]
    # CMRC 2018 has no unanswerable questions, so no threshold is tuned: models always answer.
    return [Heading(3, "Validation"),
            Table(pd.DataFrame([[r[0], *r[2:]] for r in rows], columns=["model", "EM", "F1", "n"]),
                  frozenset({"EM", "F1", "n"})),
            Note("No no-answer threshold: this data has no unanswerable questions, so span models always answer.")]


def _pairs(pairs: pd.DataFrame) -> list[Block]:
    B: list[Block] = [Heading(2, "Paired bootstrap on test F1")]
    if pairs.empty:
        return B + [Note("Needs at least two models.")]
    rows = [[r.model_a, r.model_b, str(r.n_shared), cells.fixed(r.f1_a), cells.fixed(r.f1_b), cells.signed(r.diff),
             cells.interval(r.ci_low, r.ci_high), ("yes" if r.excludes_zero else "no") if is_finite(r.ci_low) else DASH]
            for r in pairs.itertuples(index=False)]
    columns = ["model A", "model B", "shared questions", "F1 A", "F1 B", "A − B", "95% CI", "CI excludes 0"]
    return B + [Table(pd.DataFrame(rows, columns=columns), frozenset({"shared questions", "F1 A", "F1 B", "A − B", "95% CI"})),
                Note("Both models are resampled on the same question indices (aligned by question id), so the interval "
                     "accounts for questions that are hard for every model. A is the model with the higher test F1.")]


def _training_row(m: dict) -> list[str]:
    tr, params = train_of(m), m["parameters"]
    if is_zero_shot(m):
        train_time = "zero-shot: nothing trained"
    else:
        train_time = format_duration(tr.get("wall_time_s")) + (" (cached)" if tr.get("cached") else "")
    memory = cells.gib(tr.get("peak_memory_bytes")) + (f" ({tr['memory_kind']})" if tr.get("memory_kind") else "")
    return [m["name"], cells.text(m["method"]), cells.text(m["quantize"]), cells.count(params["total"]),
            cells.count(params["trainable"]), cells.text(tr.get("epochs")), train_time, cells.text(tr.get("device")),
            cells.rate(tr.get("examples_per_s")), cells.rate(tr.get("tokens_per_s")), memory]


def _training_cost(models: list[dict]) -> list[Block]:
    columns = ["model", "method", "quantize", "params", "trainable", "epochs", "train time", "train device",
               "examples/s", "tokens/s", "peak memory"]
    B: list[Block] = [
        Heading(3, "Training"),
        Table(pd.DataFrame([_training_row(m) for m in models], columns=columns),
              frozenset({"params", "trainable", "epochs", "train time", "examples/s", "tokens/s", "peak memory"})),
        Note("\"(cached)\" = the checkpoint was loaded from the cache, so train time and memory are those of the run "
             "that trained it. Peak memory is the CUDA allocator's peak (cuda), the process's RSS sampled while "
             "the Trainer trained (cpu_rss_train: model, data and training, nothing that ran before), or the "
             "process's lifetime RSS peak (cpu_rss, older runs: it includes whatever the process did earlier); "
             "GPU and CPU figures are not comparable.")]
    # Rows whose weights came from a GGUF file (recorded by the run): say they are dequantised, not the originals.
    weight_notes = [f"{m['name']}: {m['weights_note']}" for m in models if m.get("weights_note")]
    if weight_notes:
        B.append(Note("Weights from GGUF files: " + "; ".join(weight_notes) + "."))
    return B


def _inference_cost(models: list[dict]) -> list[Block]:
    rows = []
    for m in models:
        inf = section(m, "inference")
        rows.append([m["name"], cells.fixed(num(inf, "latency_p50_s"), 3), cells.fixed(num(inf, "latency_p95_s"), 3),
                     cells.rate(inf.get("questions_per_s")), cells.text(inf.get("batch_size")), cells.text(inf.get("device"))])
    columns = ["model", "latency p50 (s)", "latency p95 (s)", "questions/s", "batch size", "inference device"]
    B: list[Block] = [Heading(3, "Inference"),
                      Table(pd.DataFrame(rows, columns=columns),
                            frozenset({"latency p50 (s)", "latency p95 (s)", "questions/s", "batch size"})),
                      Note("Latency is one question asked alone (pytest-benchmark); questions/s is throughput over the "
                           "whole test set at the batch size shown.")]
    if models and all(m["inference"] is None for m in models):
        B.append(Note("Inference speed was not measured in this run: the runner measures it for every model "
                      "(`pytest bench`)."))
    return B


def _cost(models: list[dict]) -> list[Block]:
    # Two tables, not one: seventeen columns side by side ran past a laptop screen.
    return [Heading(2, "Cost"), *_training_cost(models), *_inference_cost(models)]


_CAPTIONS = {
    "train_loss": "Training loss per logging step",
    "validation": "Validation F1 and loss per epoch",
    "f1_vs_cost": "Test F1 against training cost",
    "f1_by_answer_length": "Test F1 by gold-answer length (words; CJK characters count one each)",
    "f1_by_question_type": "Test F1 by question type (from the question's wording)",
}


def _plots(plots: dict[str, bytes], skipped: dict[str, str]) -> list[Block]:
    B: list[Block] = [Heading(2, "Plots")]
    for key, file in PLOT_FILES.items():
        B.append(Heading(3, _CAPTIONS[key]))
        if key not in plots:
            B.append(Note(f"Plot skipped: {skipped.get(key, 'no data')}."))
            continue
        B.append(Image(file, _CAPTIONS[key], plots[key]))
        if key == "f1_vs_cost":
            B.append(Note("One marker shape per model; bars are 95% bootstrap CIs. Zero-shot rows sit at 0 cost. "
                          "Points at almost the same cost are spread sideways a little so none hides another."))
    return B


def _estimate_row(m: dict) -> list[str]:
    est, train = m["cost_estimate"], train_of(m)
    if est.get("basis") == "measured":
        basis = "measured tokens/s of an earlier run"
    elif est.get("basis") == "assumed MFU" and is_finite(est.get("mfu")):
        basis = f"assumed {est['mfu']:.0%} MFU"
    else:
        basis = "no FLOP/s for this device"
    return [m["name"], cells.text(est.get("device")), cells.text(est.get("method")), cells.count(est.get("n_tokens")),
            f"{est['flops']:.3g}" if is_finite(est.get("flops")) else DASH, format_duration(est.get("seconds")), basis,
            format_duration(train.get("wall_time_s")), cells.gib(est.get("peak_memory_bytes")),
            cells.gib(train.get("peak_memory_bytes"))]


def _cost_estimate(models: list[dict]) -> list[Block]:
    """The estimate printed before training (``qa_models.cost``) beside what the run measured."""
    rows = [_estimate_row(m) for m in models if m["cost_estimate"]]
    if not rows:
        return []
    columns = ["model", "device", "method", "tokens / epoch", "FLOPs", "estimated time", "time basis",
               "measured time", "estimated peak memory", "measured peak memory"]
    return [Heading(2, "Cost: estimated before training vs measured"), Table(pd.DataFrame(rows, columns=columns)),
            Note("The estimate is printed before training starts (FLOPs = 6·N·T full, 4·N·T + adapter weight "
                 "gradients for LoRA, + 2·N·T with gradient checkpointing). A CPU has no tabulated FLOP/s, so its "
                 "time is estimated only once a run of the same setup has measured tokens/s on it.")]


def _probe_cell(p: dict) -> str:
    ans, span = p["answer"], p["span_if_answering"]
    if isinstance(ans, str) and ans.strip():
        cell = ans
    elif isinstance(span, str) and span.strip():
        # Abstained at the tuned threshold: show what it would have answered, so a low
        # p_na beside "no answer" does not read as a contradiction.
        cell = f"(no answer; span: {span})"
    else:
        cell = "(no answer)"
    return cell + (f" (p_na {cells.prob(p['na_prob'], 2)})" if is_finite(p["na_prob"]) else "")


def _probe_table(models: list[dict]) -> pd.DataFrame | None:
    probes: dict[str, dict] = {}  # first model's copy of each probe, in first-seen order
    answers: dict[tuple[str, str], str] = {}
    for m in models:
        for p in m["probes"]:
            first = probes.setdefault(p["id"], dict(p))
            if not first["documented_bert_answer"] and p["documented_bert_answer"]:
                first["documented_bert_answer"] = p["documented_bert_answer"]
            answers[(p["id"], m["name"])] = _probe_cell(p)
    if not probes:
        return None
    names = [m["name"] for m in models]
    rows = [[pid, cells.text(p["lang"]), cells.text(p["question"])] + [answers.get((pid, n), DASH) for n in names]
            + [cells.text(p["documented_bert_answer"] or None)] for pid, p in probes.items()]
    return pd.DataFrame(rows, columns=["probe", "lang", "question", *names, "documented BERT answer (founding experiment)"])


def _probes(models: list[dict]) -> list[Block]:
    table = _probe_table(models)
    if table is None:
        return [Heading(2, "Probe questions"), Note("No probes recorded.")]
    thresholds = ", ".join(f"{m['name']} {cells.prob(m['threshold'], 3)}" for m in models if is_finite(m["threshold"]))
    return [Heading(2, "Probe questions"), Table(table),
            Note("p_na is the model's no-answer probability; above the no-answer threshold tuned on validation"
                 + (f" ({thresholds})" if thresholds else "")
                 + " the model abstains, and \"span\" is the answer it would have given.")]


# -- measurements: the adapter's prediction counters and the optional sections -----------

_MEASUREMENT_TEXT = {
    "abstention": ("Span quality apart from the no-answer decision",
                   "On test. share_abstained: questions answered \"\" at the tuned threshold. never_abstain_HasAns_*: "
                   "answerable questions scored as if the model never abstained (span quality alone). "
                   "no_answer_auroc: how well the no-answer probability ranks unanswerable above answerable "
                   "questions (0.5 = chance; then the best-F1 threshold can only abstain everywhere or nowhere).",
                   "span quality apart from the no-answer decision; the runner measures it on a track with "
                   "unanswerable questions (`pytest bench --qa-track squad_v2`)"),
    "validation_abstention": ("The same on validation, where fixes are judged",
                              "The fields above, measured on the validation questions at the same threshold. A fix "
                              "for a model that abstains everywhere is chosen on these numbers and on validation F1, "
                              "never on test.",
                              "validation diagnostics of the no-answer decision; the runner measures them on a track "
                              "with unanswerable questions (`pytest bench --qa-track squad_v2`)"),
    "cross_lingual": ("Cross-lingual: CMRC 2018 scores of SQuAD-trained models",
                      "Each SQuAD-trained checkpoint answers the CMRC 2018 test questions, scored with the CMRC metric "
                      "(EM and F1 on a 0-100 scale). unk_share is the tokenizer's unknown-token share of those contexts; "
                      "unk_kind says what counts as unknown ([UNK] tokens, or byte-fallback pieces).",
                      "CMRC 2018 scores of the SQuAD-trained models; `pytest bench/test_cmrc.py` measures them in a "
                      "squad_v2 run and needs the CMRC data of the profile's cmrc2018 track"),
    "speed": ("Speed: fast vs plain path",
              "From the speed suite: the same short training budget run plain and fast, and the same questions "
              "predicted both ways on the same weights. Ratios are fast / plain throughput (above 1: the fast path "
              "is faster). Per-configuration numbers are in speed.md in the run directory.",
              "fast vs plain training and prediction speed; `pytest bench -m benchmark` measures it"),
    "coverage": ("Tokenizer coverage",
                 "Share of the distinct test contexts' tokens that the tokenizer cannot represent as whole characters: "
                 "[UNK] tokens (kind unk, the text is lost) or byte pieces (kind byte_fallback, nothing is lost). "
                 "Compare shares within one kind only.",
                 "the tokenizer's unknown-token share of the test contexts; `pytest bench/test_cmrc.py` measures it"),
}
"""Per section of ``MEASUREMENTS``: heading, note under its table, and what is missing and
which command takes it when no model has the section."""

_LONG_TEXT = 30
"""Text values longer than this go to a list below a diagnostics table, not into a cell."""

ValueOf = Callable[[dict, str], Any]


def _long_items(models: list[dict], keys: list[str], value_of: ValueOf) -> list[str]:
    """One item per distinct long value, naming the models that recorded it (in input order),
    once when every model records the same value."""
    items = []
    for k in keys:
        by_value: dict[str, list[str]] = {}
        for m in models:
            if (v := value_of(m, k)) is not None:
                by_value.setdefault(cells.text(v), []).append(m["name"])
        if len(by_value) == 1 and len(next(iter(by_value.values()))) > 1:
            value, names = next(iter(by_value.items()))
            items.append(f"`{k}` (same for {len(names)} models): {value}")
        else:
            items += [f"`{k}` ({', '.join(names)}): {value}" for value, names in by_value.items()]
    return items


def _value_table(models: list[dict], keys: list[str], value_of: ValueOf) -> list[Block]:
    """A table of short values (one column per key), then a list of the long ones.

    A key whose values are all numbers, booleans, missing or short text gets a column; a
    key with any text longer than ``_LONG_TEXT`` (a file path, a sentence) is listed below
    the table instead.
    """
    long_keys = [k for k in keys if any(isinstance(value_of(m, k), str) and len(value_of(m, k)) > _LONG_TEXT
                                        for m in models)]
    cols = [k for k in keys if k not in long_keys]
    B: list[Block] = []
    rows = [m for m in models if any(value_of(m, k) is not None for k in cols)]
    if cols and rows:
        frame = pd.DataFrame([[m["name"]] + [cells.text(value_of(m, k)) for k in cols] for m in rows],
                             columns=["model", *cols])
        numeric = frozenset(k for k in cols if all(is_number(value_of(m, k)) for m in models if value_of(m, k) is not None))
        B.append(Table(frame, numeric))
    if items := _long_items(models, long_keys, value_of):
        B.append(List(items))
    return B


def _measurement(models: list[dict], name: str) -> list[Block]:
    heading, note, _ = _MEASUREMENT_TEXT[name]
    return [Heading(3, heading),
            *_value_table(models, scalar_fields(name), lambda m, k: section(m, name).get(k)),
            Note(f"{note} Fields of each model's `{name}` section (results.csv: `{name}_*`).")]


def _measurements(models: list[dict]) -> list[Block]:
    """The "Model-specific diagnostics" section: the adapters' prediction counters, a table per
    measured section, and one line per section no model has, naming the command that takes it."""
    counters: list[str] = []
    for m in models:
        counters += [k for k in m["prediction"] if k not in counters]
    B: list[Block] = [Heading(2, "Model-specific diagnostics")]
    B += _value_table(models, counters, lambda m, k: m["prediction"].get(k))
    measured = [name for name in MEASUREMENTS if any(m[name] is not None for m in models)]
    B += [Note(f"Not measured in this run: {_MEASUREMENT_TEXT[name][2]}.") for name in MEASUREMENTS
          if name not in measured and models]
    for name in measured:
        B += _measurement(models, name)
    return B


# -- environment and data ------------------------------------------------------------------


def _environment(run: dict) -> list[Block]:
    env = run["environment"] or {}
    gpu = env.get("gpu_name")
    if gpu and is_finite(env.get("gpu_memory_bytes")):
        gpu = f"{gpu} ({cells.gib(env['gpu_memory_bytes'])})"
    cpu = env.get("cpu")
    if cpu and env.get("cpu_count") is not None:
        cpu = f"{cpu} ({env['cpu_count']} cores)"
    rows = [["GPU", gpu], ["CUDA", env.get("cuda")], ["driver", env.get("driver")], ["torch", env.get("torch")],
            ["transformers", env.get("transformers")], ["peft", env.get("peft")],
            ["bitsandbytes", env.get("bitsandbytes")], ["datasets", env.get("datasets")],
            ["python", env.get("python")], ["CPU", cpu], ["platform", env.get("platform")],
            ["seed", run["seed"]], ["git commit", run["git_commit"]]]
    return [Heading(2, "Environment"),
            Table(pd.DataFrame([[k, cells.text(v)] for k, v in rows], columns=["component", "version / value"]))]


def _data(run: dict) -> list[Block]:
    B: list[Block] = []
    if run["data_files"]:
        rows = [[split, cells.text((info or {}).get("source")), cells.text((info or {}).get("sha256")),
                 cells.text((info or {}).get("n_examples"))] for split, info in run["data_files"].items()]
        B += [Heading(3, "Data files"),
              Table(pd.DataFrame(rows, columns=["split", "source", "sha256", "examples"]), frozenset({"examples"}))]
    B.append(Heading(3, "Data quality"))
    if run["skipped_records"]:
        rows = [[k, cells.text(v)] for k, v in run["skipped_records"].items()]
        B.append(Table(pd.DataFrame(rows, columns=["skipped because", "records"]), frozenset({"records"})))
    else:
        B.append(Para("No records were skipped."))
    B.append(Para(f"Answer offsets repaired while loading: {cells.text(run['repaired_offsets'])}."))
    if run["dropped_answers"]:
        B.append(Para(f"Answers dropped because their text is nowhere in the context (their questions kept, "
                      f"with their other answers): {cells.text(run['dropped_answers'])}."))
    return B


def report_blocks(results: dict, stats: dict[str, ModelStats], pairs: pd.DataFrame, plots: dict[str, bytes],
                  skipped: dict[str, str], n_resamples: int, seed: int,
                  tensorboard: tuple[str, list[str]] | None = None) -> list[Block]:
    """The whole report as a list of blocks; Markdown and HTML are two renderings of it.

    ``results`` is the results JSON object; ``tensorboard``: (the run folder as
    ``tensorboard --logdir`` takes it, the models with a ``tb/`` folder).
    """
    run, models = results["run"], results["models"]
    answer = headline(results, n_resamples=n_resamples, seed=seed, _stats=stats, _pairs_frame=pairs)
    return [*_title(run, answer), *_diagnostics(results, stats), *_glance(results, stats, n_resamples),
            *_run(run, models, tensorboard), *_test_metrics(models, stats, n_resamples, seed),
            *_validation(models), *_pairs(pairs), *_cost(models), *_plots(plots, skipped),
            *_cost_estimate(models), *_probes(models), *_measurements(models), *_environment(run), *_data(run)]
