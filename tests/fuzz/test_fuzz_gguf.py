"""Fuzz the GGUF loader through `plt-agent logits`: hundreds of mutants of tiny model files,
a `pltcoder` one and a `llama` one (whose vocabulary llama.cpp itself reads); the llama
mutants also go through `load_model`, as `fix --model FILE.gguf` does, where llama.cpp loads
the whole file.

Every mutant must end in one clean error line or in finite logits (identical to the
original's where the mutant means the same file); never an abort, a traceback, a hang,
NaN logits or a garbled message. The default run takes issue 10's findings plus a seeded
sample; `-m slow` runs every case. Set FUZZ_REPORT_DIR to keep the tables.
"""

from __future__ import annotations

import pytest
from cases_gguf import as_model_loads, gguf_cases, llama_cases
from harness import finish, run_cases, select_cases

SAMPLE = 30


def _run(tiny_gguf, tmp_path, every: bool) -> None:
    plt = gguf_cases(tiny_gguf("f32"), tmp_path / "gguf")
    llama = llama_cases(tiny_gguf("f32", llama=True), tmp_path / "llama")
    assert len(plt) > 400
    assert len(llama) > 100
    chosen = select_cases(plt, every=every, sample=SAMPLE)
    chosen += select_cases(llama, every=every, sample=SAMPLE // 2)
    chosen += select_cases(as_model_loads(llama), every=every, sample=SAMPLE // 2)
    report = run_cases(chosen, tmp_path / "worker.log")
    finish(report, f"GGUF loader fuzz ({'all' if every else 'subset'})")


def test_gguf_mutants_subset(tiny_gguf, tmp_path):
    _run(tiny_gguf, tmp_path, every=False)


@pytest.mark.slow
def test_gguf_mutants_all(tiny_gguf, tmp_path):
    _run(tiny_gguf, tmp_path, every=True)
