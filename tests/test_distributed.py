"""Scale-out: a real 2-process CPU run (torchrun, gloo) scores like the 1-process run, the
accelerate configs are valid for the installed accelerate, and only rank 0 writes the cache.

The comparison is made to be exact up to float rounding:

* the same effective batch: 2 processes x batch 4 against 1 process x batch 8. The
  Trainer's length-grouped order is the same permutation in both (same seed), and
  accelerate hands rank 0 the first half and rank 1 the second half of each batch of 8;
* 32 training questions, which make 32 windows: every step has 8 windows, so no rank gets a
  short or padded last batch (accelerate's even_batches would repeat windows);
* ``--plain``: every window padded to max_seq_length. The span loss is a softmax over every
  position, padding included, so with dynamic padding a window's loss depends on how long
  the other windows of its batch are (1 x 8 pads to the longest of 8, 2 x 4 to the longest
  of each 4): the first step's loss differed by 1%;
* no dropout: each rank draws its dropout masks from the same seeded stream for different
  rows, so with dropout the two runs are as far apart as two seeds. The test copies the
  tiny models into its own QABENCH_CACHE_DIR and sets the tiny BERT's dropout to 0.

What is left is the order of floating-point sums: the 2-process gradient is the mean of two
4-row means, reduced by gloo; the 1-process one a single 8-row mean. Measured: loss curves
equal to 1e-7 relative, no-answer probabilities to 3e-8. Tolerances: 1e-5 relative on the
loss, 1e-5 absolute on no-answer probabilities, identical answers, metrics to 1e-6.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIGS = REPO_ROOT / "configs" / "accelerate"
RECIPE = ["-m", "qa_models.train", "--profile", "tiny", "--model", "bert-span", "--epochs", "2", "--max-train-samples", "32", "--plain"]


# -- accelerate configs ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ddp", "fsdp", "multinode", "cpu_ddp"])
def test_accelerate_configs_load_with_the_installed_accelerate(name):
    """Unknown keys make accelerate refuse a config file; fsdp_* keys must be launcher options."""
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    config = load_config_from_file(str(CONFIGS / f"{name}.yaml"))
    assert isinstance(config, ClusterConfig)
    options = {action.dest for action in launch_command_parser()._actions}
    assert set(config.fsdp_config or {}) <= options
    expected = {
        "ddp": ("MULTI_GPU", 1, 8),
        "fsdp": ("FSDP", 1, 8),
        "multinode": ("MULTI_GPU", 2, 16),
        "cpu_ddp": ("MULTI_GPU", 1, 2),  # MULTI_GPU starts processes with torchrun; see the file
    }[name]
    assert (config.distributed_type.value, config.num_machines, config.num_processes) == expected
    if name == "cpu_ddp":
        assert config.use_cpu
    if name == "multinode":
        assert config.main_process_ip and config.main_process_port
        text = (CONFIGS / "multinode.yaml").read_text()
        assert "PLACEHOLDER" in text and "--machine_rank 1" in text


def _launcher_environment(config: str, *extra: str) -> dict[str, str]:
    """The FSDP_*/ACCELERATE_* variables ``accelerate launch`` would export for ``config``."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(CONFIGS / config), *extra, "-m", "qa_models.train"])
    args, _, _ = _validate_launch_command(args)
    env = prepare_multi_gpu_env(args)
    return {k: v for k, v in env.items() if k.startswith(("FSDP_", "ACCELERATE_"))}


@pytest.mark.parametrize(
    "kind, extra, layer",
    [("llama3", (), "LlamaDecoderLayer"), ("qwen", ("--fsdp_transformer_layer_cls_to_wrap", "Qwen2DecoderLayer"), "Qwen2DecoderLayer")],
)
def test_fsdp_config_shards_every_decoder_layer(kind, extra, layer, monkeypatch):
    """fsdp.yaml, as the launcher turns it into the environment, gives an FSDP2 full-shard
    plugin in bf16 whose auto-wrap policy finds the decoder layers of the tiny Llama/Qwen."""
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy
    from transformers import AutoModelForCausalLM

    from qa_models.tiny import tiny_model_dir

    env = _launcher_environment("fsdp.yaml", *extra)
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True  # FULL_SHARD
    assert plugin.transformer_cls_names_to_wrap == [layer]
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir(kind, build=True))
    assert set(model._no_split_modules) == {layer}  # what accelerate wraps when the key is left out
    policy = fsdp2_prepare_auto_wrap_policy(plugin, model)
    wrapped = [name for name, module in model.named_modules() if policy(module)]
    assert len(wrapped) == model.config.num_hidden_layers and all(type(model.get_submodule(n)).__name__ == layer for n in wrapped)


def test_fsdp_layer_class_must_be_in_the_model(monkeypatch):
    """Why fsdp.yaml names one class: the Llama class on a Qwen model is an error."""
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy
    from transformers import AutoModelForCausalLM

    from qa_models.tiny import tiny_model_dir

    for key, value in _launcher_environment("fsdp.yaml").items():
        monkeypatch.setenv(key, value)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir("qwen", build=True))
    with pytest.raises(ValueError, match="Could not find the transformer layer class LlamaDecoderLayer"):
        fsdp2_prepare_auto_wrap_policy(FullyShardedDataParallelPlugin(), model)


# -- a real 2-process run ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def no_dropout_models(tmp_path_factory) -> Path:
    """A QABENCH_CACHE_DIR whose tiny models are the usual ones, the BERT without dropout."""
    from qa_models.tiny import KINDS, tiny_model_dir

    root = tmp_path_factory.mktemp("qabench-cache")
    for kind in KINDS:
        shutil.copytree(tiny_model_dir(kind, build=True), root / "tiny-models" / f"tiny-{kind}")
    config_path = root / "tiny-models" / "tiny-bert" / "config.json"
    config = json.loads(config_path.read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config_path.write_text(json.dumps(config, indent=2))
    return root


def _launch(launcher: list[str], root: Path, batch_size: int, qabench_cache: Path) -> tuple[Path, float]:
    command = [*launcher, *RECIPE, "--batch-size", str(batch_size), "--out", str(root / "out"), "--cache-dir", str(root / "cache")]
    env = {
        **os.environ,
        "QABENCH_CACHE_DIR": str(qabench_cache),
        "OMP_NUM_THREADS": "1",  # what torchrun gives each rank; the single run gets the same
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return root, seconds


@pytest.fixture(scope="module")
def runs(tmp_path_factory, no_dropout_models) -> dict[str, tuple[Path, float]]:
    root = tmp_path_factory.mktemp("distributed")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    found = {
        "1 process x batch 8": _launch([sys.executable], root / "single", 8, no_dropout_models),
        "2 processes x batch 4 (torchrun)": _launch(torchrun, root / "ddp", 4, no_dropout_models),
    }
    print("\nwall time, whole command (start-up, data, training, scoring):")
    for name, (path, seconds) in found.items():
        train = json.loads((path / "out" / "summary.json").read_text())["train_wall_time_s"]
        print(f"  {name}: {seconds:.1f} s, of which training {train:.1f} s")
    return found


def _history(run: Path) -> dict:
    return json.loads(next((run / "cache").glob("*/train_result.json")).read_text())["history"]


def _assert_same_scores(run: Path, reference: Path) -> None:
    ours, theirs = (json.loads((r / "out" / "metrics.json").read_text()) for r in (run, reference))
    assert ours["threshold"] == pytest.approx(theirs["threshold"], abs=1e-5)
    for split in ("validation", "test"):
        assert ours[split] == pytest.approx(theirs[split], abs=1e-6), split
    assert json.loads((run / "out" / "predictions.json").read_text()) == json.loads((reference / "out" / "predictions.json").read_text())
    a, b = (json.loads((r / "out" / "na_probs.json").read_text()) for r in (run, reference))
    assert a.keys() == b.keys()
    worst = max(abs(a[k] - b[k]) for k in a)
    print(f"\nlargest no-answer probability difference: {worst:.1e}")
    assert worst <= 1e-5


@pytest.mark.slow
def test_two_processes_score_like_one(runs):
    (single, _), (ddp, _) = runs.values()
    _assert_same_scores(ddp, single)
    one, two = _history(single), _history(ddp)
    assert [p["step"] for p in two["loss"]] == [p["step"] for p in one["loss"]], "not the same number of optimizer steps"
    assert [p["loss"] for p in two["loss"]] == pytest.approx([p["loss"] for p in one["loss"]], rel=1e-5)
    assert [round(e["epoch"]) for e in two["eval"]] == [1, 2]


@pytest.mark.slow
def test_only_rank_0_writes_a_whole_cache_entry(runs):
    """transformers 5 writes no weights from rank 1; a rank-1 entry renamed over rank 0's
    used to leave a checkpoint without config.json or weights."""
    from qa_models.adapters import load_adapter

    _, (ddp, _) = runs.values()
    entries = [p for p in (ddp / "cache").iterdir() if p.is_dir()]
    assert len(entries) == 1 and (entries[0] / "train_result.json").is_file(), entries
    checkpoint = entries[0] / "checkpoint"
    assert {"config.json", "model.safetensors", "qabench.json"} <= {p.name for p in checkpoint.iterdir()}
    load_adapter(checkpoint)
    assert not list((ddp / "cache").glob("*.tmp*")), "staging folders or files left behind"
    assert (ddp / "cache" / "measured_throughput.json").is_file(), "rank 0 records the measured tokens/s"


@pytest.mark.slow
def test_accelerate_launch_with_cpu_ddp_config(runs, tmp_path, no_dropout_models):
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS / "cpu_ddp.yaml")]
    run, seconds = _launch(launcher, tmp_path, 4, no_dropout_models)
    print(f"\naccelerate launch, cpu_ddp.yaml, 2 processes x batch 4: {seconds:.1f} s")
    _, (torchrun_run, _) = runs.values()
    _assert_same_scores(run, torchrun_run)
