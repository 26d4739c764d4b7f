"""bitsandbytes' CPU-kernel warning never reaches a run's output.

The transformers Trainer imports peft, and peft imports bitsandbytes whenever it is installed,
so a run cannot avoid importing it; on CPUs with AVX512-BF16 that import logs "Failed to load
CPU gemm_4bit_forward from kernels-community" (bitsandbytes #2064). This machine's CPU may not
show it, so the test sends the record itself through the logger bitsandbytes uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_only_the_cpu_kernel_warning_of_bitsandbytes_is_dropped():
    script = textwrap.dedent("""
        import logging
        import qa_models
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
        logger.warning("Failed to load CPU gemm_4bit_forward from kernels-community: Cannot find a build variant")
        logger.warning("some other bitsandbytes warning")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "gemm_4bit_forward" not in done.stderr
    assert "some other bitsandbytes warning" in done.stderr


def test_run_metadata_reads_versions_without_importing_peft_or_bitsandbytes():
    script = "import sys; from qa_models.run_metadata import environment; e = environment(); " \
             "print(e['peft'] is not None, e['bitsandbytes'] is not None, 'peft' in sys.modules, 'bitsandbytes' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "False", "False"]
