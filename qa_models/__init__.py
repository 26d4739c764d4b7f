"""qabench's library: data, features, adapters, post-processing, metrics and reports."""

import logging as _logging


class _NoCpu4bitKernelWarning(_logging.Filter):
    """Drops bitsandbytes' "Failed to load CPU gemm_4bit_forward from kernels-community" warning.

    The transformers Trainer imports peft and peft imports bitsandbytes whenever they are
    installed, so every run imports it, and on CPUs with AVX512-BF16 its import looks for a fused
    CPU 4-bit kernel on the hub and logs this warning when it cannot load it (bitsandbytes #2064).
    No row here runs 4-bit on a CPU (quantize="4bit" needs CUDA), so the warning is only noise;
    every other bitsandbytes message still shows.
    """

    def filter(self, record: _logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to load CPU gemm_4bit_forward")


_logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_NoCpu4bitKernelWarning())
