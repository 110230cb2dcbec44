"""Fuzz `plt-agent convert`: mutants of the safetensors shards, the index, config.json and the
tokenizer files of a tiny checkpoint.

Every mutant must end in one clean error line or a written GGUF; what the `safetensors`
library refuses must be refused. The default run takes issue 10's findings plus a seeded
sample; `-m slow` runs every case. Set FUZZ_REPORT_DIR to keep the tables.
"""

from __future__ import annotations

import pytest
from cases_convert import convert_cases
from harness import finish, run_cases, select_cases

SAMPLE = 20


def _run(tiny_checkpoint, tmp_path, every: bool) -> None:
    cases = convert_cases(tiny_checkpoint(), tmp_path / "convert")
    assert len(cases) > 200
    report = run_cases(select_cases(cases, every=every, sample=SAMPLE), tmp_path / "worker.log")
    finish(report, f"converter fuzz ({'all' if every else 'subset'})")


def test_convert_mutants_subset(tiny_checkpoint, tmp_path):
    _run(tiny_checkpoint, tmp_path, every=False)


@pytest.mark.slow
def test_convert_mutants_all(tiny_checkpoint, tmp_path):
    _run(tiny_checkpoint, tmp_path, every=True)
