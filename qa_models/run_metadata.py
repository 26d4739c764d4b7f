"""Where and with what a run ran: versions and hardware, the git commit, the timestamps, and
the ``run`` object of results.json that holds them.

Kept apart from ``runner`` so the recipe reads as the recipe; ``train.py``, the bench
fixtures and the GPU check read the commit and the clock from here.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import device
from .config import Profile, to_dict
from .results import RunMetadata
from .tracks import get_track

if TYPE_CHECKING:  # runner imports this module; RunData is only a type here
    from .runner import RunData

REPO_ROOT = Path(__file__).resolve().parent.parent


def environment() -> dict[str, Any]:
    """Versions and hardware, as the founding notebook's "check the GPU" step printed."""
    import datasets
    import torch
    import transformers

    # peft and bitsandbytes versions from package metadata, never by import: importing peft
    # imports bitsandbytes whenever it is installed, and on CPUs with AVX512-BF16 that logs a
    # "Failed to load CPU gemm_4bit_forward from kernels-community" warning (bitsandbytes
    # #2064). Only LoRA rows and 4-bit rows import them, where they are used.
    def installed(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None
    here = device.detect()
    gpu = here.kind == "cuda"
    driver = None
    if gpu:
        try:
            driver = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
            ).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            driver = None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": installed("peft"),
        "bitsandbytes": installed("bitsandbytes"),
        "datasets": datasets.__version__,
        "cuda": torch.version.cuda if gpu else None,
        "gpu_name": here.name if gpu else None,
        "gpu_memory_bytes": device.memory_bytes(here) if gpu else None,
        "driver": driver,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }


def git_commit() -> str | None:
    """HEAD of the checkout, with " (uncommitted changes)" when tracked files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    if not commit:
        return None
    return commit + (" (uncommitted changes)" if status.returncode == 0 and status.stdout.strip() else "")


def run_metadata(profile: Profile, data: RunData, run_id: str, started: str, finished: str,
                 commit: str | None = None) -> RunMetadata:
    """The ``run`` object of results.json. ``commit``: the ``git_commit()`` read when the run
    started (the code that ran); a commit made during a long run must not be named instead."""
    return RunMetadata(
        run_id=run_id,
        profile=profile.name,
        track=profile.data.track,
        question=get_track(profile.data.track).question,
        started=started,
        finished=finished,
        seed=profile.train.seed,
        git_commit=commit if commit is not None else git_commit(),
        environment=environment(),
        data_files=data.files,
        skipped_records=data.skipped_records,
        repaired_offsets=data.repaired_offsets,
        dropped_answers=data.dropped_answers,
        train_spec=to_dict(profile.train),
    )


def now_utc() -> str:
    """The timestamp format of ``started``/``finished`` in results.json."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
