#!/usr/bin/env bash
# The GPU check in one command, for a bare GPU machine without network (nvcc, CMake, ninja and a
# Python 3 with PyTorch, numpy and tokenizers on it): builds llama-cpp-python 0.3.36's ggml and
# libllama with CUDA for the GPU present, from the trimmed source carried in .gpu/ (`make
# gpu-prep` makes it), then runs scripts/gpu_check.py's stages (parity, bench, llama.cpp) and
# writes the JSON report to $OUT/gpu-check.json after every stage.
#
#   bash scripts/gpu-check.sh             on the GPU machine: carry .gpu, timeout 600
#   bash scripts/gpu-check.sh --dry-run   here: every step on the CPU; CUDA configured, not compiled
#   bash scripts/gpu-check.sh --build-only  compile the CUDA libraries here (make gpu-prebuilt)
#
# Rerunning it on the same (still warm) machine skips the build and the stages already done.
# Environment: OUT (default $GPU_CHECK_WORK/out), GPU_CHECK_WORK (default .gpu-work; /tmp/plt-gpu-check
# for a dry run), GPU_CHECK_SECONDS (the whole run's budget, default 570; 1800 for a dry run),
# GPU_CHECK_BUILD_SECONDS (default 420), GPU_CHECK_ONLY (a comma-separated subset of the stages),
# CUDA_ARCHS, PYTHON.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARRY=${GPU_CHECK_CARRY:-$REPO/.gpu}
DRY=0
BUILD_ONLY=0
case "${1:-}" in
  --dry-run | --cpu) DRY=1 ;;
  --build-only) BUILD_ONLY=1 ;;  # compile here from the carried source (make gpu-prebuilt); no GPU needed
esac
START=$(date +%s)
# the device runs one command for 10 minutes at most; the dry run shares 2 cores with others
END=$((START + ${GPU_CHECK_SECONDS:-$([ $DRY = 1 ] && echo 1800 || echo 570)}))
[ $DRY = 1 ] && export PLT_AGENT_THREADS=${PLT_AGENT_THREADS:-1}  # ggml's spinning threads stall on a busy CPU
# the build and the models live beside the carried folder, not in it (a carried path is replaced
# on every call), so a second call on the same machine finds them
if [ $DRY = 1 ]; then WORK=${GPU_CHECK_WORK:-${TMPDIR:-/tmp}/plt-gpu-check}; else WORK=${GPU_CHECK_WORK:-$REPO/.gpu-work}; fi
OUT=${OUT:-$WORK/out}
export GPU_CHECK_CARRY=$CARRY
mkdir -p "$WORK" "$OUT"
LOG=$OUT/gpu-check.log
exec > >(tee -a "$LOG") 2>&1
say() { echo "gpu-check [$(($(date +%s) - START))s]: $*"; }

if [ -z "${PYTHON:-}" ]; then
  if [ $DRY = 1 ] && [ -x "$REPO/.venv/bin/python" ]; then PYTHON=$REPO/.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHON PYTHONUNBUFFERED=1
SRC_TAR=$CARRY/llama-cpp-python-src.tar.xz
[ -f "$SRC_TAR" ] || { say "missing $SRC_TAR: run \`make gpu-prep\` where there is network, and carry .gpu"; exit 2; }
[ -f "$CARRY/smollm2-lite.gguf" ] || say "missing $CARRY/smollm2-lite.gguf: parity-real will fail (make gpu-prep)"
say "mode: $([ $DRY = 1 ] && echo 'CPU dry run' || echo GPU), python: $($PYTHON --version 2>&1), work: $WORK"

# 1. Python packages the image lacks (pure Python wheels), into a folder of our own
SITE=$WORK/site
mkdir -p "$SITE"
if ls "$CARRY"/wheels/*.whl >/dev/null 2>&1; then
  $PYTHON -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$SITE" "$CARRY"/wheels/*.whl ||
    for w in "$CARRY"/wheels/*.whl; do $PYTHON -m zipfile -e "$w" "$SITE"; done
fi
export PYTHONPATH=$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}
# CUDA's runtime and cuBLAS where the loader may not look (the toolkit, PyTorch's nvidia wheels)
for d in /usr/local/cuda/lib64 $($PYTHON -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
  for lib in "$d" "$d"/nvidia/cu1*/lib "$d"/nvidia/cublas/lib "$d"/nvidia/cuda_runtime/lib; do
    [ -d "$lib" ] && LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  done
done
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}

# 2. the bench models are written in the background while ggml compiles
CPU_FLAG=$([ $DRY = 1 ] && echo --cpu || true)
if [ $BUILD_ONLY = 0 ]; then
  $PYTHON "$REPO/scripts/gpu_check.py" models --work "$WORK" $CPU_FLAG > "$WORK/models.log" 2>&1 &
  echo $! > "$WORK/models.pid"
fi

# 3. ggml + libllama with CUDA, from the trimmed source
SRC=$WORK/src/llama_cpp_python-0.3.36
BUILD=$WORK/build
[ -d "$SRC" ] || { mkdir -p "$WORK/src" && tar xJf "$SRC_TAR" -C "$WORK/src"; }
[ $DRY = 1 ] && : "${CUDA_ARCHS:=90}"
CUDA_ARGS=$(CUDA_ARCHS="${CUDA_ARCHS:-}" sh "$REPO/scripts/cuda-cmake-args.sh")
have_cublas=$?
CPU_ARGS=$(make -s -C "$REPO" --no-print-directory cmake-args 2>/dev/null ||
  echo "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF")
build_status=ok
build_start=$(date +%s)
# CUDA libraries built elsewhere (gpu_prep.py --prebuilt-from) are tried first: they save the
# compile when they load here and see the GPU; the dry run records whether they load at all
PREBUILT=$CARRY/prebuilt-cuda.tar.xz
prebuilt_probe="{}"
if [ -f "$PREBUILT" ] && [ $BUILD_ONLY = 0 ]; then
  rm -rf "$WORK/prebuilt" && mkdir -p "$WORK/prebuilt" && tar xJf "$PREBUILT" -C "$WORK/prebuilt"
  prebuilt_probe=$($PYTHON "$REPO/scripts/gpu_check.py" probe --libdir "$WORK/prebuilt" 2>"$WORK/probe.log")
  probe_rc=$?
  say "prebuilt CUDA libraries: $prebuilt_probe"
  [ $DRY = 0 ] && [ $probe_rc = 0 ] && build_status=prebuilt
fi
if [ "$build_status" = prebuilt ]; then
  :
elif [ $DRY = 1 ] && [ -n "${GPU_CHECK_NO_CONFIGURE:-}" ]; then
  build_status="configure-skipped (GPU_CHECK_NO_CONFIGURE)"
elif [ $DRY = 1 ] && { ! command -v nvcc >/dev/null || [ $have_cublas != 0 ]; }; then
  build_status="configure-skipped (no nvcc or no cuBLAS on this machine)"
elif [ ! -f "$BUILD/build.ninja" ]; then
  say "configuring: $CPU_ARGS $CUDA_ARGS"
  # shellcheck disable=SC2086 # the argument lists are meant to split
  cmake -S "$SRC/vendor/llama.cpp" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DLLAMA_BUILD_COMMON=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DCMAKE_BUILD_RPATH='$ORIGIN' -Wno-dev \
    $CPU_ARGS $CUDA_ARGS > "$WORK/configure.log" 2>&1 || { build_status=configure-failed; rm -f "$BUILD/build.ninja"; }
  tail -3 "$WORK/configure.log"
fi
LIBDIR=$SITE/llama_cpp/lib
if [ $DRY = 1 ]; then
  say "dry run: CUDA build $build_status, not compiled; the installed CPU build stands in"
  CPU_LIBS=$($PYTHON -c 'import llama_cpp, pathlib; print(pathlib.Path(llama_cpp.__file__).parent / "lib")')
elif [ "$build_status" = ok ]; then
  left=$((END - $(date +%s) - 90))
  budget=${GPU_CHECK_BUILD_SECONDS:-420}
  [ $left -lt "$budget" ] && budget=$left
  say "building llama, ggml, ggml-cpu, ggml-cuda with $(nproc) jobs (at most ${budget}s)"
  timeout "$budget" ninja -C "$BUILD" -j "$(nproc)" llama ggml ggml-base ggml-cpu ggml-cuda > "$WORK/build.log" 2>&1
  rc=$?
  [ $rc = 0 ] || build_status=$([ $rc = 124 ] && echo build-timeout || echo build-failed)
  tail -3 "$WORK/build.log"
fi
# the package as `pip install` lays it out: llama_cpp/*.py and llama_cpp/lib/*.so
rm -rf "$SITE/llama_cpp" && cp -r "$SRC/llama_cpp" "$SITE/llama_cpp" && mkdir -p "$LIBDIR"
if [ $DRY = 1 ]; then
  cp -a "$CPU_LIBS"/*.so* "$LIBDIR/"
elif [ "$build_status" = prebuilt ]; then
  cp -a "$WORK/prebuilt"/*.so* "$LIBDIR/"
elif [ "$build_status" = ok ]; then
  cp -a "$BUILD"/bin/*.so* "$LIBDIR/"
fi
say "build: $build_status in $(($(date +%s) - build_start))s; libraries: $(cd "$LIBDIR" && ls ./*.so 2>/dev/null | tr '\n' ' ')"
BUILD_STATUS=$build_status BUILD_SECONDS=$(($(date +%s) - build_start)) DRY=$DRY CUDA_ARGS=$CUDA_ARGS \
  PREBUILT_PROBE=$prebuilt_probe $PYTHON - "$WORK" <<'PY'
import json, os, pathlib, sys
work = pathlib.Path(sys.argv[1])
logs = "".join(p.read_text(errors="replace") for p in (work / "configure.log", work / "build.log") if p.exists())
try:
    probe = json.loads(os.environ["PREBUILT_PROBE"] or "{}")
except ValueError:
    probe = {"unreadable": os.environ["PREBUILT_PROBE"][-500:]}
json.dump({"status": os.environ["BUILD_STATUS"], "seconds": int(os.environ["BUILD_SECONDS"]),
           "dry_run": os.environ["DRY"] == "1", "cmake_args": os.environ["CUDA_ARGS"],
           "prebuilt": probe, "log_tail": logs[-1500:]},
          open(work / "build.json", "w"), indent=1)
PY


if [ $BUILD_ONLY = 1 ]; then
  say "built in $BUILD: $build_status"
  [ "$build_status" = ok ] && exit 0 || exit 3
fi

# 4. the stages (only env when there is nothing to run on)
STAGES=${GPU_CHECK_ONLY:+--stages $GPU_CHECK_ONLY}
[ $DRY = 0 ] && [ "$build_status" != ok ] && [ "$build_status" != prebuilt ] && STAGES="--stages env"
# shellcheck disable=SC2086
$PYTHON "$REPO/scripts/gpu_check.py" run --work "$WORK" --report "$OUT/gpu-check.json" \
  --build-json "$WORK/build.json" --deadline "$END" $CPU_FLAG $STAGES
rc=$?
kill "$(cat "$WORK/models.pid")" 2>/dev/null
rm -f "$WORK/models.pid"
case "$build_status" in ok | prebuilt | configure-skipped*) ;; *) rc=3 ;; esac
say "report: $OUT/gpu-check.json (exit $rc)"
exit $rc
