"""The cost formulas: FLOPs, time on a tabulated GPU, and peak memory, as arithmetic on numbers.

This module imports neither torch nor transformers and reads no file or device, so the
formulas can be checked by hand and imported anywhere (``cost.py`` is the harness around
them: this machine, ModelSpecs, token counts and the command line).

Every figure here is an *estimate* from a formula, or a projection from a *measured*
throughput; ``CostEstimate.basis`` says which. Nothing in this module runs a model.

Compute (N = parameters of the model as built, LoRA adapters included; N_t = trainable
parameters; T = real, non-padding tokens per epoch, times epochs)::

    forward                      2·N·T     one multiply-add per weight per token
    backward, activation grads   2·N·T     every layer, trainable or not, passes the gradient down
    backward, weight grads       2·N_t·T   only for weights that train
    -------------------------------------
    training                     (4·N + 2·N_t)·T
        full fine-tuning (N_t = N)        = 6·N·T
        LoRA (N_t ≈ 0.5 % of N)           ≈ 4·N·T
        QLoRA                              the LoRA FLOPs (the matmuls run in bf16 on weights
                                           dequantised from NF4); dequantisation is
                                           memory-bound element-wise work, not matmul FLOPs,
                                           so it is charged as time: QLORA_DEQUANT_TIME_FACTOR
    gradient checkpointing       + 2·N·T   one more forward to recompute activations
    prediction / generation      2·N per token (forward only)

N counts the input embedding, whose forward is a lookup, not a matmul (the usual 6·N·T
convention; it overcounts by the embedding's share: ~22 % of bert-base, ~7 % of Llama-3-8B),
and the attention-score matmuls (~12·layers·seq·hidden per token in training) are left out
(a few per cent at these sequence lengths). Time = FLOPs / (dense bf16 peak × MFU), where
MFU (model FLOPs utilisation) is *assumed* (DEFAULT_MFU) unless a measured tokens/s is given.

Memory: weights + gradients + AdamW states + activations + a fixed runtime reserve; see
``memory_breakdown`` for every term and the assumption behind it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

GiB = 1024**3

Method = Literal["full", "lora", "qlora"]
Precision = Literal["bf16", "fp32", "mixed"]
Basis = Literal["assumed MFU", "measured", "unknown"]


class CostError(RuntimeError):
    """A run that will not fit on its device; the message says by how much and what to change."""


# -- devices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    """One accelerator (or the CPU pseudo-device) as the estimate sees it."""

    key: str
    """Short name used on the command line and in reports, e.g. "L4"."""
    name: str
    """Vendor's product name."""
    bf16_flops: float | None
    """Dense (not 2:4-sparse) bf16 tensor peak, FLOP/s. None: not tabulated (the CPU), so
    time can only come from a measured throughput."""
    memory_bytes: int
    """Device memory in bytes (datasheet GB = 10**9 bytes). CUDA reports a little more than
    this for these cards (an L4 shows ~22.5 GiB = 24.15e9 bytes); the CUDA context and the
    caching allocator then take some back, which RUNTIME_RESERVE_BYTES stands for."""
    source: str
    """Where the figures come from."""


GPUS: dict[str, Device] = {
    d.key: d
    for d in (
        # NVIDIA L4 datasheet: "BF16 Tensor Core 242 teraFLOPS" marked "with sparsity" -> 121 dense; 24 GB GDDR6.
        Device("L4", "NVIDIA L4", 121e12, 24 * 10**9, "NVIDIA L4 datasheet (242 TFLOPS bf16 with sparsity / 2); 24 GB"),
        # A10G is an AWS-only variant of the A10 with no NVIDIA datasheet. 70 TFLOPS dense bf16 is the
        # figure commonly quoted for it (e.g. Baseten's "A10 vs A10G" comparison); NVIDIA's A10
        # datasheet gives 125 dense (250 with sparsity) for the A10 itself. 24 GB GDDR6 on both.
        Device("A10G", "NVIDIA A10G", 70e12, 24 * 10**9, "no vendor datasheet; third-party 70 TFLOPS dense bf16 (A10: 125); 24 GB"),
        # NVIDIA A100 datasheet: "BFLOAT16 Tensor Core 312 TFLOPS | 624 TFLOPS*" (* with sparsity).
        Device("A100-40GB", "NVIDIA A100 40GB", 312e12, 40 * 10**9, "NVIDIA A100 datasheet (312 TFLOPS dense bf16); 40 GB HBM2"),
        Device("A100-80GB", "NVIDIA A100 80GB", 312e12, 80 * 10**9, "NVIDIA A100 datasheet (312 TFLOPS dense bf16); 80 GB HBM2e"),
        # NVIDIA H100 datasheet, SXM column: "BF16 Tensor Core 1,979 teraFLOPS" marked "with sparsity".
        Device("H100-SXM", "NVIDIA H100 SXM", 1979e12 / 2, 80 * 10**9, "NVIDIA H100 datasheet, SXM (1,979 TFLOPS bf16 with sparsity / 2); 80 GB HBM3"),
        # NVIDIA H200 datasheet: "BF16 Tensor Core 1,979 TFLOPS" with sparsity (the H100's compute); 141 GB HBM3e.
        Device("H200", "NVIDIA H200", 1979e12 / 2, 141 * 10**9, "NVIDIA H200 datasheet (1,979 TFLOPS bf16 with sparsity / 2); 141 GB HBM3e"),
    )
}

_ALIASES = {"h100": "H100-SXM", "h100-80gb": "H100-SXM", "a100": "A100-80GB", "a10": "A10G"}


def gpu_from_key(key: str) -> Device:
    """A tabulated GPU from its key ("L4", "H100-SXM", case-insensitive, a few aliases).

    "cpu" is not here: the CPU pseudo-device's memory is the RAM of the machine, which only
    ``cost.get_device`` reads."""
    by_lower = {k.lower(): k for k in GPUS}
    found = by_lower.get(key.lower()) or _ALIASES.get(key.lower())
    if found is None:
        raise CostError(f"unknown device {key!r}; known: {sorted(GPUS)} and 'cpu'")
    return GPUS[found]


def cpu_pseudo_device(name: str, memory_bytes: int) -> Device:
    """The CPU as a device: its memory is the host's RAM; its FLOP/s is not tabulated (vendor
    peaks say little about a shared, 2-core PyTorch run), so a CPU time estimate needs a
    measured tokens/s."""
    return Device("cpu", name, None, int(memory_bytes), "RAM of this machine; FLOP/s not tabulated")


def device_from_cuda_name(name: str, total_memory: int | None = None) -> Device:
    """Map a ``torch.cuda.get_device_name`` string to the table ("NVIDIA L4" -> L4,
    "NVIDIA H100 80GB HBM3" -> H100-SXM). An unknown GPU gets its reported memory and no
    FLOP/s (estimate its time from a measured tokens/s)."""
    text = name.upper()
    if "H200" in text:
        return GPUS["H200"]
    if "H100" in text:
        # PCIe and NVL H100s have lower clocks; the SXM figure overstates them.
        return GPUS["H100-SXM"]
    if "A100" in text:
        big = ("80G" in text) or (total_memory is not None and total_memory > 50 * 10**9)
        return GPUS["A100-80GB" if big else "A100-40GB"]
    if "A10G" in text:
        return GPUS["A10G"]
    if text.endswith(" L4") or text == "L4":
        return GPUS["L4"]
    return Device(name, name, None, int(total_memory or 0), "reported by torch; FLOP/s not tabulated")


# -- assumptions ---------------------------------------------------------------------------

DEFAULT_MFU = 0.4
"""*Assumed* model FLOPs utilisation: the share of the dense bf16 peak a well-fed transformer
fine-tune sustains. Not measured here; replace it with a measured tokens/s when you have one."""

QLORA_DEQUANT_TIME_FACTOR = 1.3
"""*Assumed*: QLoRA does LoRA's matmul FLOPs, but first dequantises every NF4 weight to bf16
in the forward, again in the backward, and again in the gradient-checkpointing recompute.
That memory-bound work is charged as 30 % more time than the same LoRA run. An assumption,
not a measurement."""

NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)
"""NF4 with double quantisation (bitsandbytes, QLoRA): 4 bits per weight, plus one 8-bit
absmax per block of 64 weights, plus one fp32 constant per 256 such blocks: ~0.516 bytes."""

ACTIVATION_BYTES_PER_TOKEN_HIDDEN = 34
"""Activations one transformer layer keeps for the backward pass, in bytes per token per
hidden unit, with 16-bit activations (Korthikanti et al. 2022, "Reducing Activation
Recomputation in Large Transformer Models": 34·s·b·h + 5·a·s²·b per layer, dropout masks
included). The s² attention-score term is added only where the scores are materialised
(eager attention, e.g. on the CPU); SDPA / flash kernels on a GPU recompute them."""

LOGIT_EXTRA_BYTES = 8
"""A causal LM's loss upcasts the [batch, seq, vocab] logits to fp32 (4 bytes) and keeps the
log-softmax for the backward (4 more), on top of the logits themselves in the activation dtype."""

RUNTIME_RESERVE_BYTES = 1 * GiB
"""CUDA context, cuBLAS workspace and allocator fragmentation on a GPU; interpreter, torch and
data on a CPU. A rough allowance, not measured per device."""

_WEIGHT_BYTES = {"bf16": 2, "fp32": 4, "mixed": 4}
_GRAD_BYTES = {"bf16": 2, "fp32": 4, "mixed": 4}
_STATE_BYTES = {"bf16": 2, "fp32": 4, "mixed": 4}
_ACTIVATION_BYTES = {"bf16": 2, "fp32": 4, "mixed": 2}
ADAPTER_BYTES_PER_PARAM = 4 + 4 + 8
"""LoRA adapters (and a span row's QA head) train in fp32 whatever the base dtype (peft's
``autocast_adapter_dtype`` default): weight 4, gradient 4, AdamW m and v 4 + 4."""


# -- model dimensions ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelDims:
    """What the activation and quantisation terms need to know about the architecture."""

    hidden: int
    layers: int
    heads: int
    vocab: int | None = None
    """Set for a causal LM trained on next-token loss (its logits are large); None for span heads."""
    n_params_unquantized: int = 0
    """Parameters a 4-bit load keeps in 16 bits: the input embedding and an untied LM head
    (bitsandbytes quantises only the linear layers inside the blocks)."""

    @classmethod
    def from_config(cls, config: Any, method: str) -> ModelDims:
        """From a transformers config; ``method`` "generative" adds the LM-head logits and weights."""
        hidden = int(config.hidden_size)
        vocab = int(config.vocab_size)
        generative = method == "generative"
        tied = bool(getattr(config, "tie_word_embeddings", False))
        unquantized = vocab * hidden * (2 if generative and not tied else 1)
        return cls(
            hidden=hidden,
            layers=int(config.num_hidden_layers),
            heads=int(config.num_attention_heads),
            vocab=vocab if generative else None,
            n_params_unquantized=unquantized,
        )


# -- the estimate --------------------------------------------------------------------------------


@dataclass
class CostEstimate:
    """FLOPs, time and memory of one fine-tune on one device."""

    flops: float
    seconds: float | None
    """None when the device has no tabulated FLOP/s and no throughput was measured (basis "unknown")."""
    hours: float | None
    peak_memory_bytes: int
    fits: bool
    device_memory_bytes: int
    basis: Basis
    """"assumed MFU": FLOPs / (peak × mfu); "measured": tokens / measured tokens/s; "unknown": no time."""
    device: str = ""
    method: str = ""
    mfu: float | None = None
    n_tokens: int = 0
    epochs: float = 1.0
    gradient_checkpointing: bool = False
    batch_size: int = 0
    memory: dict[str, int] = field(default_factory=dict)
    """Peak-memory terms in bytes: weights, gradients, optimizer, activations, runtime."""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def training_flops(n_params_total: int, n_params_trainable: int, n_tokens: float, epochs: float = 1.0, gradient_checkpointing: bool = False) -> float:
    """(4·N + 2·N_t)·T, plus 2·N·T for the checkpointing recompute (see the module docstring)."""
    tokens = float(n_tokens) * float(epochs)
    flops = (4.0 * n_params_total + 2.0 * n_params_trainable) * tokens
    if gradient_checkpointing:
        flops += 2.0 * n_params_total * tokens
    return flops


def prediction_flops(n_params: int, n_tokens: float) -> float:
    """Forward only: 2·N per token (prompt and generated tokens alike)."""
    return 2.0 * n_params * float(n_tokens)


def memory_breakdown(
    n_params_total: int,
    n_params_trainable: int,
    method: Method,
    *,
    precision: Precision = "bf16",
    batch_size: int = 16,
    seq_len: int = 384,
    dims: ModelDims | None = None,
    gradient_checkpointing: bool = False,
    materialized_attention: bool = False,
) -> dict[str, int]:
    """Peak training memory, term by term, in bytes.

    * weights: full and LoRA bases in ``precision`` (bf16 2 bytes, fp32 4); QLoRA's quantised
      linear weights at NF4_BYTES_PER_PARAM and ``dims.n_params_unquantized`` in bf16;
      LoRA adapters in fp32.
    * gradients and AdamW m, v: for trainable weights only. Full fine-tuning keeps them in the
      weights' dtype (the harness loads bf16 weights on a GPU, so there is no fp32 master copy:
      2 + 2 + 2·2 = 8 bytes per parameter; "mixed" = fp32 master weights, gradients and states,
      16 bytes); adapters 16 bytes (ADAPTER_BYTES_PER_PARAM).
    * activations, per layer: ACTIVATION_BYTES_PER_TOKEN_HIDDEN·seq·batch·hidden (×2 in fp32),
      plus 5·heads·seq²·batch where attention scores are materialised. All layers without
      gradient checkpointing; with it, each layer's input (seq·batch·hidden values) plus one
      layer in full. A causal LM adds its logits: batch·seq·vocab·(activation bytes +
      LOGIT_EXTRA_BYTES). Without ``dims`` activations are not estimated (0).
    * runtime: RUNTIME_RESERVE_BYTES.
    """
    if method not in ("full", "lora", "qlora"):
        raise CostError(f"method must be 'full', 'lora' or 'qlora', got {method!r}")
    if precision not in _WEIGHT_BYTES:
        raise CostError(f"precision must be one of {sorted(_WEIGHT_BYTES)}, got {precision!r}")
    weights, gradients, optimizer = _parameter_memory(n_params_total, n_params_trainable, method, precision, dims)
    activations = 0.0
    if dims is not None:
        activations = _activation_memory(dims, precision, batch_size, seq_len, gradient_checkpointing, materialized_attention)
    return {
        "weights": int(weights),
        "gradients": int(gradients),
        "optimizer": int(optimizer),
        "activations": int(activations),
        "runtime": int(RUNTIME_RESERVE_BYTES),
    }


def _parameter_memory(
    n_params_total: int, n_params_trainable: int, method: Method, precision: Precision, dims: ModelDims | None
) -> tuple[float, float, float]:
    """Bytes of weights, gradients and AdamW states, as ``memory_breakdown`` documents them."""
    if method == "full":
        weights = n_params_total * _WEIGHT_BYTES[precision]
        gradients = n_params_total * _GRAD_BYTES[precision]
        optimizer = n_params_total * 2 * _STATE_BYTES[precision]
        return weights, gradients, optimizer
    frozen = n_params_total - n_params_trainable
    if method == "lora":
        base = frozen * _WEIGHT_BYTES[precision]
    else:
        unquantized = min(dims.n_params_unquantized if dims else 0, frozen)
        base = (frozen - unquantized) * NF4_BYTES_PER_PARAM + unquantized * 2
    return base + n_params_trainable * 4, n_params_trainable * 4, n_params_trainable * 8


def _activation_memory(
    dims: ModelDims,
    precision: Precision,
    batch_size: int,
    seq_len: int,
    gradient_checkpointing: bool,
    materialized_attention: bool,
) -> float:
    """Bytes of activations (logits included), as ``memory_breakdown`` documents them."""
    act = _ACTIVATION_BYTES[precision]
    scale = act / 2
    tokens = batch_size * seq_len
    per_layer = ACTIVATION_BYTES_PER_TOKEN_HIDDEN * tokens * dims.hidden * scale
    if materialized_attention:
        per_layer += 5 * dims.heads * seq_len * seq_len * batch_size * scale
    if gradient_checkpointing:
        activations = dims.layers * tokens * dims.hidden * act + per_layer
    else:
        activations = dims.layers * per_layer
    if dims.vocab:
        activations += tokens * dims.vocab * (act + LOGIT_EXTRA_BYTES)
    return activations


def _training_time(
    flops: float, n_tokens: float, epochs: float, method: Method, device: Device, mfu: float, measured_tokens_per_s: float | None
) -> tuple[float | None, Basis, float | None, list[str]]:
    """(seconds, basis, the MFU used, notes): a measured throughput wins over the assumed MFU,
    which needs a tabulated peak."""
    if measured_tokens_per_s is not None:
        if measured_tokens_per_s <= 0:
            raise CostError(f"measured_tokens_per_s must be positive, got {measured_tokens_per_s}")
        return n_tokens * epochs / measured_tokens_per_s, "measured", None, []
    if device.bf16_flops is not None:
        seconds = flops / (device.bf16_flops * mfu)
        if method == "qlora":
            seconds *= QLORA_DEQUANT_TIME_FACTOR
        return seconds, "assumed MFU", mfu, []
    return None, "unknown", None, [f"{device.name}: FLOP/s not tabulated; pass a measured tokens/s for a time"]


def _check_counts(n_params_total: int, n_params_trainable: int, method: Method, mfu: float) -> None:
    if n_params_trainable > n_params_total or n_params_trainable < 0:
        raise CostError(f"trainable parameters ({n_params_trainable:,}) must be between 0 and the total ({n_params_total:,})")
    if method == "full" and n_params_trainable != n_params_total:
        raise CostError("full fine-tuning trains every parameter: n_params_trainable must equal n_params_total")
    if not 0 < mfu <= 1:
        raise CostError(f"mfu must be in (0, 1], got {mfu}")


def estimate_run(
    n_params_total: int,
    n_params_trainable: int,
    n_tokens: int,
    epochs: float,
    method: Method,
    device: Device,
    mfu: float = DEFAULT_MFU,
    measured_tokens_per_s: float | None = None,
    *,
    precision: Precision | None = None,
    batch_size: int = 16,
    seq_len: int = 384,
    dims: ModelDims | None = None,
    gradient_checkpointing: bool = False,
) -> CostEstimate:
    """FLOPs, time and peak memory of fine-tuning on ``device`` (a Device; ``cost.estimate_run``
    also takes a table key or "cpu").

    ``n_tokens`` is real tokens per epoch (``cost.count_training_tokens``). ``mfu`` is an
    assumption (DEFAULT_MFU) and is used only when ``measured_tokens_per_s`` is None; a
    measured throughput (e.g. ``TrainResult.tokens_per_s`` of a short run on the same
    device) replaces the formula's time. ``precision`` defaults to bf16 on a GPU and fp32
    on the CPU, as ``training.torch_dtype`` loads weights.
    """
    _check_counts(n_params_total, n_params_trainable, method, mfu)
    on_cpu = device.key == "cpu"
    flops = training_flops(n_params_total, n_params_trainable, n_tokens, epochs, gradient_checkpointing)
    seconds, basis, used_mfu, notes = _training_time(flops, n_tokens, epochs, method, device, mfu, measured_tokens_per_s)
    if method == "qlora" and on_cpu:
        notes.insert(0, "QLoRA needs CUDA and bitsandbytes; a CPU cannot run it")
    if dims is None:
        notes.append("activations not estimated (no model dimensions given)")
    memory = memory_breakdown(
        n_params_total,
        n_params_trainable,
        method,
        precision=precision or ("fp32" if on_cpu else "bf16"),
        batch_size=batch_size,
        seq_len=seq_len,
        dims=dims,
        gradient_checkpointing=gradient_checkpointing,
        materialized_attention=on_cpu,
    )
    peak = sum(memory.values())
    return CostEstimate(
        flops=flops,
        seconds=seconds,
        hours=seconds / 3600 if seconds is not None else None,
        peak_memory_bytes=peak,
        fits=peak <= device.memory_bytes,
        device_memory_bytes=device.memory_bytes,
        basis=basis,
        device=device.key,
        method=method,
        mfu=used_mfu,
        n_tokens=int(n_tokens),
        epochs=float(epochs),
        gradient_checkpointing=gradient_checkpointing,
        batch_size=batch_size,
        memory=memory,
        notes=notes,
    )
