#!/usr/bin/env bash
# Re-create .whl/: the wheels bench/gpu_check.py needs on the device machine, which has torch,
# transformers, peft and accelerate but lacks these (see docs/BENCHMARKS.md, "GPU check").
# The device runs Python 3.12 on x86-64 (/work/.library/device/KINDS.md); the wheels are fetched
# for that interpreter whatever this machine runs. --no-deps: their other needs (torch, triton,
# numpy, pyarrow, pandas, fsspec, huggingface-hub, xxhash, ...) are already there.
# Total about 45 MB; the run tool carries at most 64 MiB with the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
rm -rf .whl && mkdir -p .whl
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
  -d .whl \
  bitsandbytes==0.50.2 liger-kernel==0.8.5 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
du -ch .whl/*.whl
