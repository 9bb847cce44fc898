#!/usr/bin/env bash
# Installs the Debian packages faceid needs, with apt-get. Idempotent; silent when nothing is
# missing. When packages are missing and cannot be installed, says exactly which ones.
#   scripts/setup_deps.sh            build + test dependencies
#   scripts/setup_deps.sh --bench    also the PyTorch-Python reference (python3-torch)
#   scripts/setup_deps.sh --fuzz     also clang + libFuzzer runtime
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopencv-dev libeigen3-dev libyaml-cpp-dev catch2 libfmt-dev libcli11-dev
  libopenblas0-openmp   # optimised BLAS; Debian's default reference BLAS is ~8x slower
  gnuplot-nox           # plots (ROC, DET, histograms, t-SNE) with the pngcairo terminal
  libsodium-dev         # template store encryption
  libgloo-dev           # c10d's Gloo process group headers (data-parallel training)
)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(python3-torch python3-numpy) ;;
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    *) echo "setup_deps.sh: unknown option '$arg' (use --bench or --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

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
