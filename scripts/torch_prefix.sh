#!/usr/bin/env bash
# Prints the CMAKE_PREFIX_PATH of the pip LibTorch in .venv-torch/ (scripts/setup_deps.sh
# --torch=pip installs it). Exit 1 with a message when it is not there.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! prefix=$(.venv-torch/bin/python -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null); then
  echo "torch_prefix: no pip LibTorch in .venv-torch/ (run scripts/setup_deps.sh --torch=pip)" >&2
  exit 1
fi
echo "$prefix"
