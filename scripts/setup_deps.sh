#!/usr/bin/env bash
# Installs the Debian packages faceid needs, with apt-get. Idempotent; silent when nothing is
# missing. When packages are missing and cannot be installed, says exactly which ones.
#   scripts/setup_deps.sh            build + test dependencies
#   scripts/setup_deps.sh --bench    also the PyTorch-Python reference (python3-torch)
#   scripts/setup_deps.sh --fuzz     also clang + libFuzzer runtime
#   scripts/setup_deps.sh --torch=pip  also LibTorch 2.x with CUDA from PyPI's pinned torch wheel,
#                                    into the git-ignored virtual environment .venv-torch/ (4.6 GB);
#                                    prints nothing more: scripts/torch_prefix.sh gives its CMake path
set -euo pipefail
cd "$(dirname "$0")/.."
# The pip LibTorch: the GPU machines of this project run Python torch 2.11.0+cu130, so binaries
# built against this pin run there (scripts/gpu_bundle.sh).
torch_pin=${FACEID_TORCH_PIN:-torch==2.11.0}
want_pip_torch=0

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopencv-dev libeigen3-dev libyaml-cpp-dev catch2 libfmt-dev libcli11-dev
  libopenblas0-openmp   # optimised BLAS; Debian's default reference BLAS is ~8x slower
  gnuplot-nox           # plots (ROC, DET, histograms, t-SNE) with the pngcairo terminal
  libsodium-dev         # template store encryption
  libgloo-dev           # c10d's Gloo process group headers (data-parallel training)
  nlohmann-json3-dev    # JSON reports (evaluate, unlock_sim, train, train_pad)
)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(python3-torch python3-numpy) ;;
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    --torch=pip) want_pip_torch=1; packages+=(python3-venv python3-pip) ;;
    --torch=debian) ;;
    *) echo "setup_deps.sh: unknown option '$arg' (use --bench, --fuzz or --torch=pip)" >&2; exit 2 ;;
  esac
done

# .venv-torch/ with the pinned wheel; kept when it already holds that version.
install_pip_torch() {
  local venv=.venv-torch want have
  want=${torch_pin#torch==}
  have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null || true)
  [ "${have%%+*}" = "$want" ] && return 0
  echo "setup_deps: installing $torch_pin into $venv (LibTorch with CUDA, ~4.6 GB; pip caches it)" >&2
  local py
  py=$(command -v python3)
  "$py" -m venv "$venv" || { echo "setup_deps: $py -m venv failed (install python3-venv)" >&2; exit 1; }
  # numpy: for the PyTorch-Python reference of the GPU check (scripts/gpu_check.sh)
  if ! "$venv/bin/pip" install --quiet --progress-bar off "$torch_pin" numpy >&2; then
    echo "setup_deps: pip install $torch_pin failed (network? disk: $(df -h . | awk 'NR==2 {print $4}') free)" >&2
    exit 1
  fi
}

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  [ "$want_pip_torch" = 1 ] && install_pip_torch
  exit 0
fi

echo "setup_deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup_deps: not root and no sudo; install these packages: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
fi
rm -f "$log"

still=()
for p in "${missing[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || still+=("$p")
done
if [ ${#still[@]} -gt 0 ]; then
  echo "setup_deps: could not install: ${still[*]}" >&2
  exit 1
fi
[ "$want_pip_torch" = 1 ] && install_pip_torch
exit 0
