#!/usr/bin/env bash
# Builds faceid against the pinned pip LibTorch (.venv-torch/, build-torch2/) and collects one
# folder that runs on a GPU machine having only Python's torch 2.11 + CUDA 13: no -dev packages,
# no network, no apt. It holds the apps and test binaries (bin/), every shared library they load
# that is neither torch's, CUDA's nor the C library's (lib/, found by ldd), the GPU check, the
# reference script, configs and the shipped model. torch and CUDA come from the target's own
# torch install: run.sh finds it with `python3 -c 'import torch'` and sets LD_LIBRARY_PATH.
#   scripts/gpu_bundle.sh [--out DIR] [--no-build]   (default DIR: gpu_bundle/)
# Then on the target:  DIR/run.sh scripts/gpu_check.sh      (or DIR/run.sh bin/train ...)
set -euo pipefail
cd "$(dirname "$0")/.."
out=gpu_bundle build=1 limit_mib=60
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift ;;
    --no-build) build=0 ;;
    *) echo "gpu_bundle.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
if [ "$build" = 1 ]; then
  scripts/setup_deps.sh --torch=pip
  CMAKE_ARGS="-DCMAKE_PREFIX_PATH=$(scripts/torch_prefix.sh) ${CMAKE_ARGS:-}" \
    BUILD_DIR=build-torch2 scripts/build.sh
fi
src=build-torch2/bin
rm -rf "$out.tmp"
mkdir -p "$out.tmp/bin" "$out.tmp/lib" "$out.tmp/scripts/reference"
for b in "$src"/*; do
  [ -x "$b" ] && [ -f "$b" ] && cp "$b" "$out.tmp/bin/"
done
strip --strip-unneeded "$out.tmp"/bin/* 2>/dev/null || true
# Libraries. OpenCV's image codecs link libraries faceid never calls -- GDAL rasters, DICOM
# (GDCM), OpenEXR, JPEG 2000 -- and GDAL alone pulls in ~150 MiB more (PROJ, GEOS, HDF5,
# Poppler, ICU, x265...). Those four are replaced by stubs: a library of the same soname that
# defines every symbol OpenCV imports from it as a function returning 0 (OpenCV is linked with
# BIND_NOW, so the symbols must exist). faceid reads and writes only PNG, BMP and .dat, and
# checks the extension first; the one call that happens is imread's format probe
# (Imf::isImfMagic), for which 0 means "not this format".
# BLAS and LAPACK, which OpenCV's core links and faceid does not use through it, are Debian's
# reference builds instead of OpenBLAS (35 MiB). Then ldd, with the bundle's lib/ first, gives
# the rest: everything but the wheel's (torch, nvidia) and the C runtime's, which the target
# has. libstdc++ and libgcc_s travel: Debian 12's are newer than many targets'.
sys=/lib/x86_64-linux-gnu
imgcodecs=$(ldd "$out.tmp/bin/train" | awk '$1 ~ /^libopencv_imgcodecs/ {print $3}')
stubs=(libgdal.so.32 libgdcmMSFF.so.3.0 libgdcmDSED.so.3.0 libOpenEXR-3_1.so.30 libopenjp2.so.7)
nm -D --undefined-only "$imgcodecs" | awk '{print $2}' | sed 's/@.*//' | sort -u > "$out.tmp/imports.txt"
for stub in "${stubs[@]}"; do
  nm -D --defined-only "$sys/$stub" | awk '{print $3}' | sed 's/@.*//' | sort -u |
    comm -12 - "$out.tmp/imports.txt" > "$out.tmp/$stub.syms"
  {
    echo "/* $stub: stubs of the symbols OpenCV's imgcodecs imports (scripts/gpu_bundle.sh) */"
    i=0
    while read -r sym; do
      echo "long s$i(void) __asm__(\"$sym\"); long s$i(void) { return 0; }"
      i=$((i + 1))
    done < "$out.tmp/$stub.syms"
  } > "$out.tmp/$stub.c"
  cc -shared -fPIC -O1 -Wl,-soname,"$stub" -o "$out.tmp/lib/$stub" "$out.tmp/$stub.c"
done
cp -L /usr/lib/x86_64-linux-gnu/blas/libblas.so.3 /usr/lib/x86_64-linux-gnu/lapack/liblapack.so.3 "$out.tmp/lib/"
torch_lib=$(dirname "$(ldd "$out.tmp/bin/train" | awk '$1 == "libtorch_cpu.so" {print $3}')")
wheel_libs=$(find "$torch_lib/../../nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')
skip='(/\.venv-torch/|linux-vdso|/ld-linux|/libc\.so|/libm\.so|/libpthread\.so|/libdl\.so|/librt\.so|/libresolv\.so|/libcuda\.so)'
for b in "$out.tmp"/bin/*; do
  LD_LIBRARY_PATH="$out.tmp/lib:$torch_lib:$wheel_libs" ldd "$b" | awk '$3 ~ /^\// {print $3}'
done | sort -u | grep -Ev "$skip" | grep -v "^$out.tmp/lib/" | while read -r lib; do
  cp -L "$lib" "$out.tmp/lib/"
done
rm -f "$out.tmp"/*.c "$out.tmp"/*.syms "$out.tmp/imports.txt"
# Every program must load with the bundle's libraries alone (BIND_NOW resolves every symbol).
for b in "$out.tmp"/bin/*; do
  if LD_LIBRARY_PATH="$out.tmp/lib:$torch_lib:$wheel_libs" ldd -r "$b" 2>&1 | grep -q "undefined symbol\|not found"; then
    echo "gpu_bundle: $(basename "$b") does not load from the bundle:" >&2
    LD_LIBRARY_PATH="$out.tmp/lib:$torch_lib:$wheel_libs" ldd -r "$b" 2>&1 | grep "undefined symbol\|not found" | head -5 >&2
    exit 1
  fi
done
cp scripts/gpu_check.sh "$out.tmp/scripts/"
cp scripts/reference/pytorch_reference.py "$out.tmp/scripts/reference/"
cp -r configs models "$out.tmp/"
cat > "$out.tmp/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs a bundled program with the bundle's libraries and the target's torch + CUDA libraries.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
torch_lib=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') || {
  echo "run.sh: $py cannot import torch (set PYTHON)" >&2; exit 2; }
site=$(dirname "$(dirname "$torch_lib")")
nv=$(find "$site/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')
export LD_LIBRARY_PATH="$here/lib:$torch_lib:$nv${LD_LIBRARY_PATH:-}"
cd "$here"
exec "$@"
RUN
chmod +x "$out.tmp/run.sh"
rm -rf "$out"
mv "$out.tmp" "$out"
size=$(du -sm "$out" | cut -f1)
echo "gpu_bundle: $out: $(ls "$out/bin" | wc -l) programs, $(ls "$out/lib" | wc -l) libraries, ${size} MiB (limit ${limit_mib})"
echo "gpu_bundle: largest libraries:"; du -m "$out"/lib/* | sort -n | tail -5 | sed 's/^/  /'
if [ "$size" -gt "$limit_mib" ]; then
  echo "gpu_bundle: over the ${limit_mib} MiB limit by $((size - limit_mib)) MiB" >&2
  exit 1
fi
