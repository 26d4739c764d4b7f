"""What a fine-tune will cost, before it runs, for the harness's own objects.

The formulas (FLOPs, time on a tabulated GPU, memory terms) are arithmetic in
``cost_model``, which imports neither torch nor transformers; this module adds what needs
the machine or the harness: this machine's device, an estimate for a ModelSpec and
TrainSpec, real token counts from a tokenizer, the one-line summary, the refusal of a run
that will not fit, and ``python -m qa_models.cost``. Names other modules use are
re-exported from ``cost_model``, so ``cost.training_flops`` and the like keep working.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

from . import device as machine
from .families import FAMILIES
from .formatting import format_duration, markdown_table
from .cost_model import (
    ACTIVATION_BYTES_PER_TOKEN_HIDDEN,
    ADAPTER_BYTES_PER_PARAM,
    DEFAULT_MFU,
    GPUS,
    LOGIT_EXTRA_BYTES,
    NF4_BYTES_PER_PARAM,
    QLORA_DEQUANT_TIME_FACTOR,
    RUNTIME_RESERVE_BYTES,
    Basis,
    CostError,
    CostEstimate,
    Device,
    GiB,
    Method,
    ModelDims,
    Precision,
    cpu_pseudo_device,
    device_from_cuda_name,
    gpu_from_key,
    memory_breakdown,
    prediction_flops,
    training_flops,
)
from .cost_model import estimate_run as _estimate_on_device

# -- this machine ---------------------------------------------------------------------------


def cpu_device() -> Device:
    """The CPU as a pseudo-device: this machine's RAM, no tabulated FLOP/s."""
    return cpu_pseudo_device(machine.cpu().name, machine.host_memory_bytes())


def get_device(device: str | Device) -> Device:
    """A Device from a key ("L4", "H100-SXM", "cpu", case-insensitive, a few aliases) or a Device."""
    if isinstance(device, Device):
        return device
    if device.lower() == "cpu":
        return cpu_device()
    return gpu_from_key(device)


def this_machine() -> Device:
    """The device a run here trains on: the first CUDA GPU, else the CPU pseudo-device (an
    Apple GPU shares the host RAM and has no tabulated FLOP/s, so it is costed as the CPU)."""
    found = machine.detect()
    if found.kind == "cuda":
        return device_from_cuda_name(found.name, machine.memory_bytes(found))
    return cpu_device()


def estimate_run(
    n_params_total: int, n_params_trainable: int, n_tokens: int, epochs: float, method: Method, gpu: str | Device,
    *args: Any, **kwargs: Any,
) -> CostEstimate:
    """``cost_model.estimate_run`` on ``gpu`` given as a table key, "cpu" (this machine's RAM)
    or a Device; the other arguments are passed through."""
    return _estimate_on_device(n_params_total, n_params_trainable, n_tokens, epochs, method, get_device(gpu), *args, **kwargs)


def format_estimate(estimate: CostEstimate, label: str | None = None) -> str:
    """One line, e.g. "bert-base-span (full) on H100-SXM: 1.96e+15 FLOPs, ~5.0 s at an assumed
    40 % MFU; peak ~2.9 GiB of 74.5 GiB: fits"."""
    who = f"{label} ({estimate.method})" if label else estimate.method
    if estimate.seconds is None:
        duration = "time unknown (no FLOP/s for this device; pass a measured tokens/s)"
    elif estimate.basis == "measured":
        duration = f"~{format_duration(estimate.seconds)} at the measured throughput"
    else:
        extra = f", x{QLORA_DEQUANT_TIME_FACTOR} for NF4 dequantisation (assumed)" if estimate.method == "qlora" else ""
        duration = f"~{format_duration(estimate.seconds)} at an assumed {estimate.mfu:.0%} MFU{extra}"
    verdict = "fits" if estimate.fits else "does NOT fit"
    return (
        f"{who} on {estimate.device}: {estimate.n_tokens:,} tokens x {estimate.epochs:g} epochs, "
        f"{estimate.flops:.3g} FLOPs, {duration}; peak memory ~{estimate.peak_memory_bytes / GiB:.1f} GiB "
        f"of {estimate.device_memory_bytes / GiB:.1f} GiB: {verdict}"
    )


def check_fits(estimate: CostEstimate) -> CostEstimate:
    """Return the estimate if it fits its device; else raise CostError naming the fixes."""
    if estimate.fits:
        return estimate
    terms = ", ".join(f"{k} {v / GiB:.1f}" for k, v in estimate.memory.items() if v)
    fixes = []
    if estimate.method == "full":
        fixes.append("LoRA with --qa-quantize 4bit (QLoRA) instead of full fine-tuning")
    elif estimate.method == "lora":
        fixes.append("--qa-quantize 4bit (QLoRA)")
    fixes.append("a smaller --qa-batch-size (or --qa-max-seq-length)")
    if not estimate.gradient_checkpointing:
        fixes.append("gradient checkpointing (ModelSpec.gradient_checkpointing=True)")
    raise CostError(
        f"{estimate.method} fine-tuning needs ~{estimate.peak_memory_bytes / GiB:.1f} GiB "
        f"(GiB: {terms}), the {estimate.device} has {estimate.device_memory_bytes / GiB:.1f} GiB: use "
        + " / ".join(fixes)
        + ", or a device with more memory"
    )


# -- from the harness's own objects ----------------------------------------------------------------


def count_training_tokens(tokenizer: Any, examples: Sequence[Any], spec: Any, max_examples: int | None = None) -> int:
    """Real (non-padding) training tokens of one epoch, as the adapter will build them.

    Span models: the sum of the attention masks of ``features.build_train_features`` (a long
    context's overlapping windows each count: they are each computed). Generative models:
    prompt + answer tokens of ``prompts.encode_for_training``. ``max_examples`` counts a
    seeded random sample of that many examples and scales up to all of them (a quick
    estimate on a large set; a sample, not the first N, because files are ordered by article
    and articles differ in context length).
    """
    from .data import sample_examples

    examples = list(examples)
    counted = sample_examples(examples, max_examples, seed=0)
    if not counted:
        return 0
    if getattr(spec, "method", "span") == "generative":
        from .prompts import encode_for_training

        n = int(encode_for_training(tokenizer, counted, spec).n_tokens)
    else:
        from .features import build_train_features

        windows = build_train_features(tokenizer, counted, spec, pad_to_max=False)
        n = int(sum(sum(mask) for mask in windows["attention_mask"]))
    return n if len(counted) == len(examples) else int(round(n * len(examples) / len(counted)))


def method_of(spec: Any) -> Method:
    """"full", "lora" or "qlora" for a ModelSpec."""
    if spec.lora is None:
        return "full"
    return "qlora" if spec.quantize == "4bit" else "lora"


def _counts(n_params: Any) -> tuple[int, int]:
    if isinstance(n_params, int):
        return n_params, n_params
    if hasattr(n_params, "total"):
        return int(n_params.total), int(n_params.trainable)
    total, trainable = n_params
    return int(total), int(trainable)


def estimate_for_profile_model(
    spec: Any,
    train_spec: Any,
    n_tokens: int,
    n_params: Any,
    gpu: str | Device | None = None,
    *,
    model_config: Any = None,
    mfu: float = DEFAULT_MFU,
    measured_tokens_per_s: float | None = None,
) -> CostEstimate:
    """The estimate for one row of a profile, from its ModelSpec and TrainSpec.

    ``n_tokens``: real tokens per epoch (``count_training_tokens``). ``n_params``:
    ``adapter.parameter_counts()`` (a ParameterCounts), a (total, trainable) pair, or one int
    for full fine-tuning. ``gpu``: a table key, "cpu", a Device, or None for this machine.
    ``model_config``: the model's transformers config (``adapter.model.config``, or
    ``shapes.full_size_config(name)``) for the activation and 4-bit terms.
    """
    if getattr(spec, "zero_shot", False):
        raise CostError(f"model {spec.name} is a zero-shot row: it is never trained, so there is no training cost")
    total, trainable = _counts(n_params)
    method = method_of(spec)
    device = this_machine() if gpu is None else get_device(gpu)
    if device.key == "cpu" or spec.dtype == "float32":
        precision: Precision = "fp32"
    else:
        precision = "bf16"
    dims = ModelDims.from_config(model_config, spec.method) if model_config is not None else None
    seq_len = spec.max_seq_length + (spec.max_new_tokens if spec.method == "generative" else 0)
    if method == "full" and trainable != total:
        trainable = total  # a frozen part would be a LoRA run; count what full fine-tuning trains
    return estimate_run(
        total,
        trainable,
        n_tokens,
        train_spec.epochs,
        method,
        device,
        mfu=mfu,
        measured_tokens_per_s=measured_tokens_per_s,
        precision=precision,
        batch_size=train_spec.batch_size,
        seq_len=seq_len,
        dims=dims,
        gradient_checkpointing=spec.gradient_checkpointing,
    )


__all__ = [
    "ACTIVATION_BYTES_PER_TOKEN_HIDDEN",
    "ADAPTER_BYTES_PER_PARAM",
    "DEFAULT_MFU",
    "GPUS",
    "LOGIT_EXTRA_BYTES",
    "NF4_BYTES_PER_PARAM",
    "QLORA_DEQUANT_TIME_FACTOR",
    "RUNTIME_RESERVE_BYTES",
    "Basis",
    "CostError",
    "CostEstimate",
    "Device",
    "GiB",
    "Method",
    "ModelDims",
    "Precision",
    "check_fits",
    "count_training_tokens",
    "cpu_device",
    "device_from_cuda_name",
    "estimate_for_profile_model",
    "estimate_run",
    "format_estimate",
    "get_device",
    "memory_breakdown",
    "method_of",
    "prediction_flops",
    "this_machine",
    "training_flops",
]


# -- projections for the founding experiment (python -m qa_models.cost) ----------------------------

FULL_SQUAD_V2_TRAIN_QUESTIONS = 130_319
"""Questions in the official SQuAD v2.0 train set (../shared/data/README.md)."""


def seed_projections(
    tokens_per_question: float,
    gpus: Sequence[str] = ("L4", "H100-SXM"),
    questions: int = FULL_SQUAD_V2_TRAIN_QUESTIONS,
    mfu: float = DEFAULT_MFU,
) -> list[dict[str, Any]]:
    """Projected cost of the seed profile's fine-tunes (bert-base full, Llama-3-8B and
    Qwen1.5-7B generative QLoRA) on full SQuAD v2, with full-size parameter counts from
    ``shapes`` and the seed profile's hyper-parameters."""
    from . import shapes
    from .profiles import seed_profile

    profile = seed_profile()
    rows_of = {"bert-base-span": shapes.BERT_BASE, "llama3-8b-generative": shapes.LLAMA3_8B, "qwen1.5-7b-generative": shapes.QWEN15_7B}
    n_tokens = int(round(tokens_per_question * questions))
    out = []
    for row, shape in rows_of.items():
        spec = next(m for m in profile.models if m.name == row)
        counts = shapes.parameter_counts_on_meta(shape, spec.lora, spec.method)
        config = shapes.full_size_config(shape)
        for gpu in gpus:
            estimate = estimate_for_profile_model(spec, profile.train, n_tokens, counts, gpu, model_config=config, mfu=mfu)
            out.append(
                {
                    "model": row,
                    "method": estimate.method,
                    "gpu": estimate.device,
                    "params_total": counts.total,
                    "params_trainable": counts.trainable,
                    "tokens_per_epoch": n_tokens,
                    "epochs": estimate.epochs,
                    "flops": estimate.flops,
                    "hours": estimate.hours,
                    "mfu_assumed": estimate.mfu,
                    "peak_memory_gib": estimate.peak_memory_bytes / GiB,
                    "device_memory_gib": estimate.device_memory_bytes / GiB,
                    "fits": estimate.fits,
                    "line": format_estimate(estimate, row),
                }
            )
    return out


CPU_ANCHOR = {
    "tokens_per_s": 362.4,
    "params": 22_566_146,
    "what": "MiniLM-L6 span, full fine-tuning, fp32, fast path, batch 32, 2-core x86-64 CPU (torch 2 threads)",
    "source": "docs/BENCHMARKS.md, 'CPU: MiniLM span training, fast path vs plain (measured)', run 4 (2026-11-25, commit cb52c95)",
}
"""The one measured CPU training throughput a CPU projection scales from: real tokens/s of a
full fine-tune on this 2-core machine. Its model FLOP/s (6·N·tokens/s, ~4.9e10) are assumed to
carry over to larger models, which a CPU run of bert-base has not yet checked."""

TRAINED_SEED_ROWS = ("bert-base-span", "llama3-8b-generative", "llama3-8b-span", "qwen1.5-7b-generative", "qwen1.5-7b-span")


def cpu_anchor_flops_per_s(anchor: dict[str, Any] = CPU_ANCHOR) -> float:
    """Model FLOP/s the CPU anchor sustained (full fine-tuning: 6·N per token)."""
    return training_flops(anchor["params"], anchor["params"], anchor["tokens_per_s"])


def measured_row_stats(stats: dict[str, Any], row: str) -> dict[str, Any]:
    """A row's measured token counts in a ``tokenizer_check`` stats document (its ``full`` part)."""
    for entry in stats["full"]["tokenizers"].values():
        if row in entry["rows"]:
            return entry["rows"][row]
    raise CostError(f"no measured token counts for row {row!r}; regenerate them with: "
                    "python -m qa_models.tokenizer_check --profile seed --write-stats docs/seed_token_stats.json")


def measured_seed_projections(
    stats: dict[str, Any],
    devices: Sequence[str] = ("L4", "H100-SXM", "cpu"),
    questions: int = FULL_SQUAD_V2_TRAIN_QUESTIONS,
    mfu: float = DEFAULT_MFU,
    rows: Sequence[str] = TRAINED_SEED_ROWS,
) -> list[dict[str, Any]]:
    """Projected cost of the seed profile's trained rows on full SQuAD v2 from each row's
    *measured* tokens per question (its own tokenizer, layout and length: span windows, or
    prompt + answer) and its longest measured training sequence (the memory term).

    GPU time is FLOPs over the datasheet peak at the assumed MFU; CPU time scales the measured
    CPU anchor (``CPU_ANCHOR``) by FLOPs per token. Both are projections; the token counts are
    measurements."""
    from . import shapes
    from .profiles import seed_profile

    profile = seed_profile()
    anchor = cpu_anchor_flops_per_s()
    out = []
    for row in rows:
        spec = next(m for m in profile.models if m.name == row)
        measured = measured_row_stats(stats, row)
        shape = FAMILIES[spec.family].full_size.name
        counts = shapes.parameter_counts_on_meta(shape, spec.lora, spec.method)
        dims = ModelDims.from_config(shapes.full_size_config(shape), spec.method)
        per_question = float(measured["training_tokens_per_question"])
        n_tokens = int(round(per_question * questions))
        method = method_of(spec)
        trainable = counts.total if method == "full" else counts.trainable
        for key in devices:
            device = get_device(key)
            tokens_per_s = None
            if device.key == "cpu":
                tokens_per_s = anchor / training_flops(counts.total, trainable, 1, 1, spec.gradient_checkpointing)
            estimate = estimate_run(
                counts.total, trainable, n_tokens, profile.train.epochs, method, device, mfu=mfu,
                measured_tokens_per_s=tokens_per_s, precision="fp32" if device.key == "cpu" else "bf16",
                batch_size=profile.train.batch_size, seq_len=int(measured["sequence_length"]["max"]), dims=dims,
                gradient_checkpointing=spec.gradient_checkpointing,
            )
            out.append({
                "model": row, "method": estimate.method, "gpu": estimate.device,
                "params_total": counts.total, "params_trainable": trainable,
                "tokens_per_question": per_question, "tokens_per_epoch": n_tokens, "epochs": estimate.epochs,
                "seq_len_for_memory": int(measured["sequence_length"]["max"]),
                "flops": estimate.flops, "hours": estimate.hours,
                "time_basis": "CPU anchor" if device.key == "cpu" else f"assumed {mfu:.0%} MFU",
                "mfu_assumed": estimate.mfu, "peak_memory_gib": estimate.peak_memory_bytes / GiB,
                "device_memory_gib": estimate.device_memory_bytes / GiB, "fits": estimate.fits,
                "runs_here": not (method == "qlora" and device.key == "cpu"),
            })
    return out


def measured_projection_table(rows: Sequence[dict[str, Any]]) -> str:
    """``measured_seed_projections`` as Markdown; times in hours so the column compares."""
    columns = ["model", "method", "device", "tokens/question (measured)", "tokens/epoch", "FLOPs (3 epochs)",
               "projected time", "time from", "peak memory (est.)", "fits"]
    cells = []
    for row in rows:
        fits = ("yes" if row["fits"] else "no") if row["runs_here"] else "cannot run: QLoRA needs CUDA"
        cells.append([
            row["model"], row["method"], row["gpu"], f"{row['tokens_per_question']:.1f}", f"{row['tokens_per_epoch']:,}",
            f"{row['flops']:.3g}", f"{row['hours']:,.2f} h" if row["hours"] is not None else "unknown", row["time_basis"],
            f"{row['peak_memory_gib']:.1f} of {row['device_memory_gib']:.1f} GiB", fits,
        ])
    return markdown_table(columns, cells)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the seed profile's projected cost on full SQuAD v2 from measured token counts."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(
        prog="python -m qa_models.cost",
        description="Project the seed profile's fine-tunes (bert-base full; Llama-3-8B and Qwen1.5-7B QLoRA, span and "
        "generative) on full SQuAD v2: FLOPs, hours and peak memory per device, from each row's token counts measured "
        "with its real tokenizer (python -m qa_models.tokenizer_check). Token counts are measured; times are projected.",
    )
    parser.add_argument("--profile", default="seed", choices=["seed"],
                        help="profile to project (seed: the founding experiment; the others run on this CPU and report "
                        "their measured cost themselves)")
    parser.add_argument("--device", action="append", default=None,
                        help=f"device to project onto; repeat or comma-separate (L4, H100, A100, cpu, or one of {sorted(GPUS)}; "
                        "default: L4, H100-SXM and this CPU)")
    parser.add_argument("--stats", default=None,
                        help="measured token counts JSON (default: docs/seed_token_stats.json, written by "
                        "python -m qa_models.tokenizer_check --profile seed --write-stats docs/seed_token_stats.json)")
    parser.add_argument("--measure", action="store_true",
                        help="measure the token counts now from the shared data and the real tokenizers instead of "
                        "reading the JSON (needs QABENCH_DATA_DIR; about a minute per 1,000 questions)")
    parser.add_argument("--sample", type=int, default=None,
                        help="with --measure: a seeded random sample of this many training questions (quicker)")
    parser.add_argument("--questions", type=int, default=FULL_SQUAD_V2_TRAIN_QUESTIONS,
                        help="questions per epoch of the projected run (default: full SQuAD v2 train, 130,319)")
    parser.add_argument("--mfu", type=float, default=DEFAULT_MFU, help="assumed model FLOPs utilisation on a GPU (default 0.4)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args(argv)

    from . import tokenizer_check

    try:
        if args.measure:
            rows = tokenizer_check.profile_tokenizers(args.profile)
            examples, path = tokenizer_check.load_file(tokenizer_check.TRAIN_FILE)
            stats = {"full": tokenizer_check.measure_stats(rows, examples, path, args.sample), "train_file": str(path),
                     "command": "python -m qa_models.cost --measure"}
        else:
            stats = tokenizer_check.read_stats(Path(args.stats) if args.stats else None)
        devices = [d.strip() for group in (args.device or ["L4,H100-SXM,cpu"]) for d in group.split(",") if d.strip()]
        for key in devices:
            get_device(key)  # an unknown device stops here, naming the known ones
        projected = measured_seed_projections(stats, devices, args.questions, args.mfu)
    except (tokenizer_check.TokenizerCheckError, CostError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    full = stats["full"]
    print(f"Measured token counts: {full['questions']:,} questions of {stats['train_file']} "
          f"({'sample' if full.get('sample_seed') is not None else 'whole file'}); from: {stats['command']}")
    print(f"Projected onto {args.questions:,} questions x 3 epochs. GPU time: FLOPs / (dense bf16 peak x {args.mfu:.0%} "
          f"assumed MFU), QLoRA x{QLORA_DEQUANT_TIME_FACTOR}. CPU time: scaled from {CPU_ANCHOR['tokens_per_s']} real "
          f"tokens/s of {CPU_ANCHOR['what']} ({CPU_ANCHOR['source']}).")
    print()
    print(measured_projection_table(projected))
    if args.json:
        Path(args.json).write_text(json.dumps(projected, indent=1) + "\n")
    return 0


def projection_table(rows: Sequence[dict[str, Any]]) -> str:
    """``seed_projections`` as a Markdown table; times stay in hours so the column compares."""
    columns = ["model", "method", "GPU", "parameters (trainable)", "FLOPs", "projected time", "assumed MFU", "peak memory (est.)", "fits"]
    cells = [
        [
            row["model"], row["method"], row["gpu"], f"{row['params_total']:,} ({row['params_trainable']:,})",
            f"{row['flops']:.3g}", f"{row['hours']:.2f} h" if row["hours"] is not None else "unknown",
            f"{row['mfu_assumed']:.0%}", f"{row['peak_memory_gib']:.1f} of {row['device_memory_gib']:.1f} GiB",
            "yes" if row["fits"] else "no",
        ]
        for row in rows
    ]
    return markdown_table(columns, cells)


if __name__ == "__main__":
    raise SystemExit(main())
