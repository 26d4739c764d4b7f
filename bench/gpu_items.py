"""The measurement items of ``bench/gpu_check.py``: what each one builds, runs and records.

``GpuCheck`` holds the models shared by a group of items, the sizes (``Settings``) and the
clock the items read (``remaining``); ``items()`` lists them in the order they run. Each item
returns a dict of findings or raises (``Skip`` when it cannot run on this machine).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from bench.gpu_lengths import plan_rows
from bench.gpu_steps import Settings, build_random, free_memory, gib, run_steps, tiny_tokenizer
from qa_models.device import has_cuda
from qa_models.families import full_size_families

REPO = Path(__file__).resolve().parent.parent
NO_CUDA = "no CUDA device"
DECODER_FAMILIES = {f.full_size.row_prefix: f for f in full_size_families() if f.decoder}
"""The seed profile's decoders by row prefix ("llama3-8b"): each one's shape, family and end-of-turn token."""
DECODERS = {key: f.full_size.name for key, f in DECODER_FAMILIES.items()}
FAMILY = {key: (f.name, f.end_of_turn) for key, f in DECODER_FAMILIES.items()}


class Skip(Exception):
    """Raised by an item that cannot run here (its message is the reason)."""


@dataclasses.dataclass
class Item:
    name: str
    group: str
    gpu_only: bool
    estimate_s: float
    run: Callable[[], dict[str, Any]]
    what: str


class GpuCheck:
    def __init__(self, out: Path, budget_s: float, tiny: bool, only: str | None, work_dir: str | None) -> None:
        self.out = out
        self.budget_s = budget_s
        self.s = Settings.make(tiny)
        self.only = re.compile(only) if only else None
        self.cuda = has_cuda()
        self.t0 = time.perf_counter()
        if work_dir:
            Path(work_dir).mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="gpu_check-", dir=work_dir))
        self.state: dict[str, Any] = {}
        self.group: str | None = None
        self.item_deadline = 0.0

    # -- helpers -------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def remaining(self) -> float:
        return self.budget_s - self.elapsed()

    def estimate(self, full_s: float) -> float:
        return 1.0 if self.s.tiny else full_s

    def release(self) -> None:
        for key in list(self.state):
            if key.startswith("_keep"):
                continue
            del self.state[key]
        free_memory()

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """One model per group, built on first use; a build that failed fails its dependants."""
        if key not in self.state:
            try:
                started = time.perf_counter()
                self.state[key] = build()
                self.state[key + ":build_s"] = round(time.perf_counter() - started, 2)
            except Exception as error:  # noqa: BLE001
                self.state[key] = error
        value = self.state[key]
        if isinstance(value, Exception):
            raise RuntimeError(f"building {key} failed: {type(value).__name__}: {value}") from value
        return value

    # -- 1. bert-base span ---------------------------------------------------------

    def bert(self, variant: str) -> dict[str, Any]:
        from transformers import DataCollatorWithPadding

        from qa_models import shapes, training
        from qa_models.config import ModelSpec, TrainSpec

        fast = variant == "fast"
        spec = ModelSpec(name="bert-base-span", model_id="bert-base-uncased", family="bert",
                         dtype="float32" if variant == "plain_fp32" else "auto", max_seq_length=self.s.bert_seq,
                         doc_stride=min(128, self.s.bert_seq // 2))
        train_spec = TrainSpec(batch_size=self.s.bert_batch, fast=fast, eval_every_epoch=False)
        model = build_random(shapes.BERT_BASE, "span", training.torch_dtype(spec), self.s.tiny)
        n = self.s.bert_batch * (self.s.warmup_steps + self.s.measured_steps)
        plan = plan_rows("bert", "span", n, model.config.vocab_size, self.s.tiny, cap=self.s.bert_seq)
        padder = plan.tokenizer or tiny_tokenizer("bert", spec)[0]
        # As the span adapter pads: each batch to its longest window (fast), every window to
        # max_seq_length (plain).
        collator = (DataCollatorWithPadding(padder, pad_to_multiple_of=8 if self.cuda else None) if fast
                    else DataCollatorWithPadding(padder, padding="max_length", max_length=max(plan.lengths)))
        result = run_steps(model, spec, train_spec, plan.rows, collator, self.s, self.work / "bert", self.item_deadline)
        result.update(seq_len=max(plan.lengths), batch=self.s.bert_batch, attention=str(model.config._attn_implementation),
                      windows="padded per batch" if fast else "padded to the longest window", **plan.summary())
        del model
        return result

    # -- 2. decoders ------------------------------------------------------------------

    def decoder_spec(self, key: str, **changes: Any) -> Any:
        from qa_models.config import LoraSpec, ModelSpec

        family, eot = FAMILY[key]
        base = dict(name=f"{key}-generative", model_id=DECODERS[key], method="generative", family=family,
                    lora=LoraSpec(), end_of_turn_token=eot, max_seq_length=self.s.dec_seq,
                    doc_stride=min(128, self.s.dec_seq // 2))
        base.update(changes)
        base["doc_stride"] = min(base["doc_stride"], base["max_seq_length"] // 2)
        return ModelSpec(**base)

    def decoder_lora_model(self, key: str) -> Any:
        def build() -> Any:
            from qa_models import training

            spec = self.decoder_spec(key)
            model = build_random(DECODERS[key], "generative", training.torch_dtype(spec), self.s.tiny)
            return training.apply_lora(model, spec, task_type="CAUSAL_LM")

        return self.cached(f"{key}:lora", build)

    def decoder_rows(self, key: str, vocab: int) -> tuple[list[dict[str, list[int]]], dict[str, Any]]:
        """Training rows at the seed generative row's real lengths (``bench/gpu_lengths.py``)."""
        n = self.s.dec_batch * (self.s.warmup_steps + self.s.measured_steps) * 2
        plan = plan_rows(FAMILY[key][0], "generative", n, vocab, self.s.tiny, cap=self.s.dec_seq)
        return plan.rows, plan.summary()

    def decoder_train(self, key: str, *, gc_on: bool = False, packing: bool = False, liger: bool = False,
                      quantized: bool = False) -> dict[str, Any]:
        from transformers import DataCollatorWithFlattening

        from qa_models.adapters.generative import (
            AnswerOnlyCollator, _causal_lm, answer_logits_plan, packing_plan, use_fused_linear_cross_entropy)
        from qa_models.config import TrainSpec
        from qa_models.prompts import IGNORE_INDEX

        if liger:
            import importlib.util

            if importlib.util.find_spec("liger_kernel") is None:
                raise ModuleNotFoundError("liger_kernel is not installed (carry .whl/, see docs/BENCHMARKS.md)")
        model = self.qlora_model(key) if quantized else self.decoder_lora_model(key)
        spec = self.decoder_spec(key, gradient_checkpointing=gc_on, **({"quantize": "4bit"} if quantized else {}))
        train_spec = TrainSpec(batch_size=self.s.dec_batch, fast=True, eval_every_epoch=False)
        lm = _causal_lm(model)
        if not gc_on and getattr(lm, "is_gradient_checkpointing", False):
            lm.gradient_checkpointing_disable()
        extra: dict[str, Any] = {}
        saved_attention = lm.config._attn_implementation
        if packing:
            import importlib.util

            attention = "flash_attention_2" if importlib.util.find_spec("flash_attn") else "flex_attention"
            lm.set_attn_implementation(attention)
            flash = attention.startswith("flash")
            collator: Any = DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE_INDEX, return_flash_attn_kwargs=flash)
        else:
            collator = AnswerOnlyCollator(0, "right", pad_to_multiple_of=8 if self.cuda else None,
                                          answer_logits_only=answer_logits_plan(lm, fused_loss=liger)[0])
        harness_packs, why = packing_plan(lm, train_spec)
        extra.update(attention=str(lm.config._attn_implementation), harness_packing_plan=why,
                     harness_would_pack=harness_packs, harness_would_use_liger=use_fused_linear_cross_entropy(train_spec))
        config = lm.config
        saved_cache = config.use_cache
        try:
            rows, lengths = self.decoder_rows(key, config.vocab_size)
            result = run_steps(model, spec, train_spec, rows, collator, self.s,
                               self.work / key, self.item_deadline, label_names=["labels"], remove_unused_columns=False,
                               use_cache=False, use_liger_kernel=liger)
        finally:
            config.use_cache = saved_cache
            if packing:
                lm.set_attn_implementation(saved_attention)
        result.update(extra, **lengths, batch=self.s.dec_batch, packing=packing,
                      liger=liger, quantize="4bit" if quantized else "none", lora="r16 all-linear")
        for k in (f"{key}:lora:build_s", f"{key}:qlora:build_s"):
            if k in self.state and ((":qlora" in k) == quantized):
                result["model_build_s"] = self.state[k]
        if quantized and f"{key}:qlora:timings" in self.state:
            result.update(self.state[f"{key}:qlora:timings"])
        return result

    def qlora_model(self, key: str) -> Any:
        """A random full-size model saved to disk, loaded back in NF4 through the harness's
        ``_load_causal_lm`` (``quantization_kwargs``), LoRA by ``apply_lora``."""
        if not self.cuda:
            raise Skip(NO_CUDA)

        def build() -> Any:
            import torch

            from qa_models import training
            from qa_models.adapters.generative import _load_causal_lm

            folder = self.work / f"{key}-random"
            started = time.perf_counter()
            model = build_random(DECODERS[key], "generative", torch.bfloat16, self.s.tiny)
            built = time.perf_counter()
            model.save_pretrained(folder, max_shard_size="5GB")
            saved = time.perf_counter()
            del model
            free_memory()
            spec = self.decoder_spec(key, model_id=str(folder), quantize="4bit", gradient_checkpointing=True)
            torch.cuda.reset_peak_memory_stats()
            loaded = _load_causal_lm(folder, spec)
            weights = torch.cuda.memory_allocated()
            done_load = time.perf_counter()
            shutil.rmtree(folder, ignore_errors=True)
            self.state[f"{key}:qlora:timings"] = {
                "random_build_s": round(built - started, 2), "save_s": round(saved - built, 2),
                "load_4bit_s": round(done_load - saved, 2), "memory_after_4bit_load_gib": gib(weights),
            }
            return training.apply_lora(loaded, spec, task_type="CAUSAL_LM")

        return self.cached(f"{key}:qlora", build)

    # -- 3. generation ------------------------------------------------------------------

    def generate(self, key: str, batch: str) -> dict[str, Any]:
        from qa_models.adapters.generative import GenerativeAdapter
        from qa_models.config import TrainSpec
        from qa_models.data import load_examples
        from qa_models.training import Stopwatch

        model = self.decoder_lora_model(key)
        lm = model.get_base_model() if hasattr(model, "get_base_model") else model
        if getattr(lm, "is_gradient_checkpointing", False):
            lm.gradient_checkpointing_disable()
        lm.config.use_cache = True
        spec = self.decoder_spec(key, max_seq_length=max(self.s.dec_seq, 384))
        wanted = max(self.s.gen_questions_eval, self.s.gen_questions_batch1)
        examples, tokenizer, source = self.real_questions(key, spec, wanted)
        if examples is None:
            tokenizer, _ = tiny_tokenizer(FAMILY[key][0], spec)
            base = load_examples(REPO / "fixtures" / "squad_v2_tiny_dev.json", split="validation").examples
            examples = []
            for i in range(wanted):
                e = base[i % len(base)]
                context = e.context
                while len(context) < (300 if self.s.tiny else 1200):  # SQuAD-length contexts; the original stays a prefix
                    context = context + " " + e.context
                examples.append(dataclasses.replace(e, id=f"{e.id}-{i}", context=context))
        eval_batch = TrainSpec().eval_batch_size
        size = 1 if batch == "batch1" else eval_batch
        n = self.s.gen_questions_batch1 if batch == "batch1" else self.s.gen_questions_eval
        adapter = GenerativeAdapter(spec, model, tokenizer)
        adapter.predict(examples[:1], batch_size=1)  # warm-up: kernels, allocator
        with Stopwatch() as clock:
            predictions = adapter.predict(examples[:n], batch_size=size)
        from qa_models.prompts import encode_prompts

        prompt_tokens = [len(ids) for ids in encode_prompts(tokenizer, examples[:n], spec)[0]]
        return {
            "questions_from": source,
            "prompt_tokens_mean": round(sum(prompt_tokens) / len(prompt_tokens), 1),
            "prompt_tokens_max": max(prompt_tokens),
            "questions": n,
            "batch_size": size,
            "harness_eval_batch_size": eval_batch,
            "seconds": round(clock.seconds, 3),
            "questions_per_s": round(n / clock.seconds, 3),
            "max_new_tokens": spec.max_new_tokens,
            "truncated_prompts": predictions.extra.get("truncated_prompts"),
            "note": "random weights rarely emit the end-of-turn token, so most answers run to max_new_tokens",
        }

    def real_questions(self, key: str, spec: Any, n: int) -> tuple[list[Any] | None, Any, str]:
        """A seeded sample of the shared training file and the row's real tokenizer (full-size
        shapes only: their ids overflow the tiny vocabulary); (None, None, why) otherwise."""
        if self.s.tiny:
            return None, None, "tiny: the project's fixtures, tiny tokenizer"
        from qa_models import tokenizer_check
        from qa_models.data import sample_examples

        try:
            tokenizer = tokenizer_check.load_tokenizer(tokenizer_check.tokenizer_source(FAMILY[key][0]), spec)
            examples, path = tokenizer_check.load_file(tokenizer_check.TRAIN_FILE)
        except tokenizer_check.TokenizerCheckError as error:
            return None, None, f"fixtures, tiny tokenizer (real ones unavailable: {error})"
        return sample_examples(examples, n, seed=0), tokenizer, f"real: {n} seeded questions of {path.name}, real tokenizer"

    # -- 4. the report's device row -------------------------------------------------------

    def report(self) -> dict[str, Any]:
        run_id = "gpu-check-tiny"
        reports = self.work / "reports"
        env = dict(os.environ, PYTHONUNBUFFERED="1", QABENCH_CACHE_DIR=str(self.work / "cache"))
        timeout = max(30.0, min(300.0, self.remaining()))
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "pytest", "bench/test_squad.py", "-m", "train", "--qa-profile", "tiny",
               "--qa-models", "bert-span", "--qa-run-id", run_id, "--qa-report-dir", str(reports),
               "--qa-cache-dir", str(self.work / "checkpoints"), "-q", "-p", "no:cacheprovider", "--benchmark-disable"]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        train_s = time.perf_counter() - started
        run_dir = reports / run_id
        if not (run_dir / "results.json").is_file():
            raise RuntimeError(f"no results.json (pytest exit {proc.returncode}): {(proc.stdout + proc.stderr)[-1500:]}")
        rebuild = subprocess.run([sys.executable, "-m", "qa_models.report", str(run_dir)], cwd=REPO, env=env,
                                 capture_output=True, text=True, timeout=120)
        if rebuild.returncode != 0:
            raise RuntimeError(f"qa_models.report exit {rebuild.returncode}: {(rebuild.stdout + rebuild.stderr)[-1500:]}")
        results = json.loads((run_dir / "results.json").read_text())
        text = (run_dir / "report.md").read_text()
        shutil.copyfile(run_dir / "report.md", self.out / "harness_report.md")
        model = results["models"][0]
        device = (model.get("train") or {}).get("device")
        environment = (results.get("run") or {}).get("environment") or {}
        cost = re.search(r"cost: ([^,]+),", text)
        wording = re.findall(r"\b(?:GPU|CPU)-(?:hours|minutes|seconds)\b", text)
        rows = [line.strip() for line in text.splitlines() if device and device in line and line.lstrip().startswith("|")]
        gpu_row = [line.strip() for line in text.splitlines() if line.startswith("| GPU |")]
        return {
            "pytest_exit": proc.returncode,
            "pytest_s": round(train_s, 1),
            "results_train_device": device,
            "results_memory_kind": (model.get("train") or {}).get("memory_kind"),
            "results_gpu_name": environment.get("gpu_name"),
            "answer_cost_phrase": cost.group(1) if cost else None,
            "device_hours_wording": sorted(set(wording)),
            "gpu_hours_wording_present": any(w.startswith("GPU-") for w in wording),
            "report_device_rows": rows[:4],
            "report_environment_gpu_row": gpu_row[:1],
        }

    # -- the list ---------------------------------------------------------------------------

    def items(self) -> list[Item]:
        e = self.estimate
        out = [
            Item("bert/fast", "bert", False, e(20), lambda: self.bert("fast"), "bert-base span, seq 384 batch 16: fast path"),
            Item("bert/plain", "bert", False, e(20), lambda: self.bert("plain"), "plain path, weights as the harness loads them"),
            Item("bert/plain_fp32", "bert", False, e(25), lambda: self.bert("plain_fp32"), "plain path, fp32 weights"),
            Item("report/device_row", "report", False, e(60), self.report, "tiny harness run here; report's device wording"),
        ]
        for key in DECODERS:
            g = f"{key}:bf16"
            out += [
                Item(f"{key}/lora/gc_off", g, False, e(40), lambda k=key: self.decoder_train(k), "LoRA, seq<=512 batch 4"),
                Item(f"{key}/lora/gc_on", g, False, e(20), lambda k=key: self.decoder_train(k, gc_on=True), "LoRA + checkpointing"),
            ]
            if key == "llama3-8b":
                out += [
                    Item(f"{key}/generate/batch1", g, False, e(30), lambda k=key: self.generate(k, "batch1"), "predict, batch 1"),
                    Item(f"{key}/generate/eval_batch", g, False, e(20), lambda k=key: self.generate(k, "eval"), "predict, eval batch"),
                ]
            out += [
                Item(f"{key}/lora/liger", g, True, e(25), lambda k=key: self.decoder_train(k, liger=True), "LoRA + liger FLCE"),
            ]
        for key in DECODERS:
            g = f"{key}:qlora"
            out += [
                Item(f"{key}/qlora/gc_on", g, True, e(120), lambda k=key: self.decoder_train(k, gc_on=True, quantized=True),
                     "QLoRA NF4 + checkpointing (seed profile)"),
                Item(f"{key}/qlora/gc_off", g, True, e(20), lambda k=key: self.decoder_train(k, quantized=True), "QLoRA NF4"),
            ]
        for key in DECODERS:
            out.append(Item(f"{key}/lora/packing", f"{key}:bf16-pack", True, e(90), lambda k=key: self.decoder_train(k, packing=True),
                            "LoRA, padding-free packing (flash/flex attention)"))
        return out
