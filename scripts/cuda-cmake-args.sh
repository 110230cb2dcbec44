#!/bin/sh
# Print the CMake arguments that build llama-cpp-python's ggml with its CUDA backend, on one line.
#
# - Architectures: $CUDA_ARCHS when set (CMake syntax: "90", "86;90", "90-real"), else the compute
#   capabilities nvidia-smi reports for this machine's GPUs ("9.0" -> "90"); with neither, none is
#   printed and ggml builds its own portable list (slower to compile).
# - cuBLAS: taken from the CUDA toolkit; a toolkit without it (nvcc alone) is completed from the
#   nvidia-cublas wheel of the Python environment ($PYTHON, default python3), as PyTorch installs it.
# - The CUDA driver library: linked when found; without it ggml's VMM memory pool is turned off.
# Diagnostics go to stderr; the exit status is 3 when no cuBLAS was found (the arguments are still
# printed). Paths with spaces are not supported (CMAKE_ARGS is split on spaces).
set -u
status=0
say() { echo "cuda-cmake-args: $*" >&2; }

args="-DGGML_CUDA=ON -DGGML_CUDA_GRAPHS=ON"

archs="${CUDA_ARCHS:-}"
if [ -z "$archs" ] && command -v nvidia-smi >/dev/null 2>&1; then
  archs=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null |
    tr -d ' .' | grep -E '^[0-9]+$' | sort -un | tr '\n' ';' | sed 's/;$//')
fi
if [ -n "$archs" ]; then
  args="$args -DCMAKE_CUDA_ARCHITECTURES=$archs"
  say "CUDA architectures: $archs"
else
  say "no CUDA_ARCHS and no GPU seen by nvidia-smi: building ggml's default architecture list"
fi

# the toolkit: $CUDA_HOME / $CUDA_PATH, where nvcc lives, or /usr/local/cuda; the first with CUDA's headers
nvcc_bin=$(command -v nvcc 2>/dev/null || true)
nvcc_home=""
[ -n "$nvcc_bin" ] && nvcc_home=$(dirname "$(dirname "$(readlink -f "$nvcc_bin")")")
toolkit=""
for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" "$nvcc_home" /usr/local/cuda; do
  if [ -n "$d" ] && [ -f "$d/include/cuda_runtime.h" ]; then toolkit="$d"; break; fi
done
[ -z "$toolkit" ] && toolkit=/usr/local/cuda

has_toolkit_cublas() {
  for d in "$toolkit/include" "$toolkit/targets/x86_64-linux/include" /usr/include; do
    [ -f "$d/cublas_v2.h" ] && return 0
  done
  return 1
}

if ! has_toolkit_cublas; then
  site=$("${PYTHON:-python3}" -c 'import site, sys; print(" ".join(site.getsitepackages() + sys.path))' 2>/dev/null || true)
  found=""
  for sp in $site; do
    for d in "$sp"/nvidia/cu1*/ "$sp"/nvidia/cublas/; do
      if [ -f "$d/include/cublas_v2.h" ] && ls "$d"/lib/libcublas.so* >/dev/null 2>&1; then
        found="${d%/}"
        break 2
      fi
    done
  done
  if [ -n "$found" ]; then
    blas=$(ls "$found"/lib/libcublas.so* | head -1)
    blaslt=$(ls "$found"/lib/libcublasLt.so* | head -1)
    args="$args -DCUDA_cublas_LIBRARY=$blas -DCUDA_cublasLt_LIBRARY=$blaslt"
    args="$args -DCMAKE_CUDA_FLAGS=-I$found/include -DCMAKE_CXX_FLAGS=-I$found/include"
    say "cuBLAS from $found (the toolkit in $toolkit has none)"
  else
    say "no cuBLAS found in $toolkit nor in the Python environment: the CUDA build will fail"
    status=3
  fi
fi

driver=""
for f in "$toolkit/lib64/stubs/libcuda.so" "$toolkit/targets/x86_64-linux/lib/stubs/libcuda.so"; do
  [ -f "$f" ] && driver=toolkit && break
done
if [ -z "$driver" ]; then
  driver=$( (ldconfig -p 2>/dev/null | awk '/libcuda\.so(\.1)? /{print $NF; exit}'; \
    ls /usr/local/nvidia/lib64/libcuda.so* /usr/lib/x86_64-linux-gnu/libcuda.so* 2>/dev/null) | head -1)
  if [ -n "$driver" ]; then
    args="$args -DCUDA_cuda_driver_LIBRARY=$driver"
  else
    args="$args -DGGML_CUDA_NO_VMM=ON"
    say "no CUDA driver library (libcuda.so) found: building without ggml's VMM pool"
  fi
fi

echo "$args"
exit $status
