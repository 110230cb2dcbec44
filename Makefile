# plt-agent developer tasks. `make install` is idempotent: seconds when nothing changed.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.plt-agent-installed

# llama-cpp-python compiles ggml. GGML_NATIVE=ON would also turn on the AMX matmul path,
# which segfaults on some of our CPUs, so we pick the instruction sets from /proc/cpuinfo.
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has = $(if $(filter $(1),$(CPU_FLAGS)),ON,OFF)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=$(call has,avx) -DGGML_AVX2=$(call has,avx2) \
  -DGGML_FMA=$(call has,fma) -DGGML_F16C=$(call has,f16c) -DGGML_BMI2=$(call has,bmi2) \
  -DGGML_AVX512=$(call has,avx512f) -DGGML_AVX512_VNNI=$(call has,avx512_vnni) \
  -DGGML_AVX512_BF16=$(call has,avx512_bf16) -DGGML_AVX512_VBMI=$(call has,avx512vbmi) \
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF

# The loop-aware kernels (engine/kernels -> engine/kernels/libpltk.so): C11 and intrinsics, one
# object per instruction set, the best one picked at run time. Without a C compiler the
# engine still runs, on ggml's kernels (it says so once).
CC       ?= cc
KDIR     := engine/kernels
KLIB     := $(KDIR)/libpltk.so
KBUILD   := build/pltk
KSRC     := $(wildcard $(KDIR)/*.c $(KDIR)/*.h)
KCFLAGS  ?= -O2 -std=gnu11 -fPIC -Wall -Wextra
ifneq ($(filter x86_64 i686 i386,$(shell uname -m)),)
K_X86    := 1
endif
AVX512   := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c

# `make install GPU=cuda` builds llama-cpp-python with ggml's CUDA backend instead (nvcc and cuBLAS
# needed), for the GPUs nvidia-smi reports, or for CUDA_ARCHS (CMake syntax, e.g. CUDA_ARCHS=90 or
# "86;90") when set: scripts/cuda-cmake-args.sh picks the flags. The CPU build stays the default.
GPU        ?=
CUDA_ARCHS ?=
LLAMA_OK   := $(BIN)/python -c "import importlib.metadata as m; assert m.version('llama-cpp-python') == '0.3.36'"
ifeq ($(GPU),cuda)
STAMP      := $(VENV)/.plt-agent-installed-cuda
LLAMA_GPU_ARGS := $(shell CUDA_ARCHS="$(CUDA_ARCHS)" PYTHON="$(BIN)/python" sh scripts/cuda-cmake-args.sh)
LLAMA_OK   += && $(BIN)/python -c "import llama_cpp, pathlib; \
  assert (pathlib.Path(llama_cpp.__file__).parent / 'lib' / 'libggml-cuda.so').exists()"
LLAMA_PIP  := --no-cache-dir --force-reinstall --no-deps
else ifneq ($(GPU),)
$(error GPU must be cuda, or unset for the CPU build; got "$(GPU)")
endif

.PHONY: install kernels kernels-or-warn test test-fast lint bench demo clean cmake-args gpu-src gpu-prep \
  gpu-check-dry gpu-prebuilt

install: $(STAMP) kernels-or-warn

kernels: $(KLIB)

kernels-or-warn:
	@$(MAKE) --no-print-directory kernels || echo "warning: the loop kernels did not build; the engine will use ggml's kernels"

$(KLIB): $(KSRC)
	@mkdir -p $(KBUILD)
	$(CC) $(KCFLAGS) $(if $(K_X86),-DPLTK_X86=1) -c $(KDIR)/pltk.c -o $(KBUILD)/pltk.o
	$(CC) $(KCFLAGS) -c $(KDIR)/mv_scalar.c -o $(KBUILD)/mv_scalar.o
ifdef K_X86
	$(CC) $(KCFLAGS) -mavx2 -mfma -mf16c -c $(KDIR)/mv_avx2.c -o $(KBUILD)/mv_avx2.o
	$(CC) $(KCFLAGS) $(AVX512) -c $(KDIR)/mv_avx512.c -o $(KBUILD)/mv_avx512.o
	$(CC) $(KCFLAGS) $(AVX512) -mavx512vnni -DPLTK_VNNI=1 -c $(KDIR)/mv_avx512.c -o $(KBUILD)/mv_avx512vnni.o
	$(CC) $(KCFLAGS) $(AVX512) -c $(KDIR)/attn_avx512.c -o $(KBUILD)/attn_avx512.o
	$(CC) -shared -o $@.tmp $(KBUILD)/pltk.o $(KBUILD)/mv_scalar.o $(KBUILD)/mv_avx2.o $(KBUILD)/mv_avx512.o $(KBUILD)/mv_avx512vnni.o $(KBUILD)/attn_avx512.o -lm
else
	$(CC) -shared -o $@.tmp $(KBUILD)/pltk.o $(KBUILD)/mv_scalar.o -lm
endif
	mv $@.tmp $@

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==2.13.0
	{ $(LLAMA_OK); } 2>/dev/null \
	  || CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $(LLAMA_GPU_ARGS)" $(BIN)/pip install -q $(LLAMA_PIP) llama-cpp-python==0.3.36
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

# the CMake arguments `make install` gives llama-cpp-python (with GPU=cuda: those of the CUDA build)
cmake-args:
	@echo $(LLAMA_CMAKE_ARGS) $(LLAMA_GPU_ARGS)

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check plt_agent engine converters tools tests
	$(BIN)/ruff format --check plt_agent engine converters tools tests

bench: install
	$(BIN)/plt-agent bench engine --synthetic 1.5G

demo: install
	$(BIN)/plt-agent demo

# The GPU check (scripts/gpu-check.sh) runs on a GPU machine without network: gpu-prep fills
# .gpu/ here (trimmed llama-cpp-python source, wheels, a small real model) to carry there.
gpu-src:
	$(BIN)/python scripts/gpu_prep.py --only src

gpu-prep:
	$(BIN)/python scripts/gpu_prep.py

gpu-check-dry:
	bash scripts/gpu-check.sh --dry-run

# Compile the CUDA libraries here (nvcc and cuBLAS needed, no GPU; about 90 minutes on 2 cores) and
# add them to .gpu/, so the GPU machine spends its minutes on the checks instead of the compile.
gpu-prebuilt:
	CUDA_ARCHS="$(or $(CUDA_ARCHS),90)" GPU_CHECK_SECONDS=100000 GPU_CHECK_BUILD_SECONDS=100000 \
	  bash scripts/gpu-check.sh --build-only
	$(BIN)/python scripts/gpu_prep.py --only prebuilt --prebuilt-from .gpu-work/build

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache $(KLIB)
