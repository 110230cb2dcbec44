"""The whole-file strategy for tiny models: candidate ranking, the minimal Python splice,
and runs with the scripted backend (revert on a bad answer, keep progress, give up cleanly)."""

from __future__ import annotations

import json
import textwrap

from agent_helpers import BUGGY_LINE, FIXED_LINE

from plt_agent.agent.fix import make_verifier
from plt_agent.agent.run import AgentSettings
from plt_agent.agent.trajectory import Trajectory
from plt_agent.agent.wholefile.pysplice import changed_units, splice_python
from plt_agent.agent.wholefile.strategy import WholeFileRun
from plt_agent.models.scripted import ScriptedModel
from tools.filekinds import is_test_file
from tools.localize import candidate_files
from tools.workspace import Workspace

ORIGINAL = textwrap.dedent('''\
    """Module docstring."""

    import math

    RATE = 2


    def area(r):
        """Area of a circle."""
        # pi r squared
        return math.pi * r * RATE


    @staticmethod
    def keep(x):
        return x
''')


def test_splice_keeps_unchanged_code_byte_for_byte_and_restores_docstrings():
    answer = "import math\nRATE = 2\ndef area(r):\n    return math.pi * r ** 2\ndef keep(x):\n    return x\n"
    merged = splice_python(ORIGINAL, answer)
    expected = ORIGINAL.replace(
        "    # pi r squared\n    return math.pi * r * RATE\n", "    return math.pi * r ** 2\n"
    )
    assert merged == expected


def test_splice_of_a_partial_answer_replaces_only_what_it_contains():
    merged = splice_python(ORIGINAL, "def keep(x):\n    return -x\n")
    assert merged == ORIGINAL.replace("    return x\n", "    return -x\n")


def test_splice_changes_constants_adds_imports_and_only_the_new_functions_in_use():
    answer = (
        "import math\nimport os\nimport sys\nRATE = 3\ndef area(r):\n    return helper(r)\n"
        "def helper(r):\n    return math.pi * r * r + len(os.sep) * 0\ndef unused():\n    return sys.argv\n"
    )
    merged = splice_python(ORIGINAL, answer)
    assert "RATE = 3\n" in merged
    assert merged.index("import os") > merged.index("import math")  # used by the new helper
    assert "import sys" not in merged  # only the unused function needed it
    assert merged.rstrip().endswith("def helper(r):\n    return math.pi * r * r + len(os.sep) * 0")
    assert "def unused" not in merged
    assert '"""Area of a circle."""' in merged
    assert "@staticmethod\ndef keep(x):" in merged


def test_junk_imports_are_left_out_and_a_corrected_import_is_kept():
    body = "\n\ndef size(text):\n    return parse_size(text)\n"
    original = "from .units import BINARY, parse_size\n" + body
    junk = "import csv\nfrom .units import BINARY, parse_size\n" + body
    assert splice_python(original, junk) == original  # nothing uses csv: the answer changes nothing
    corrected = "from .parsing import parse_size\nfrom .units import BINARY\n" + body
    merged = splice_python(original, corrected)
    # the corrected import comes after the original one, so it is the binding size() sees
    lines = merged.splitlines()
    assert lines[:2] == ["from .units import BINARY, parse_size", "from .parsing import parse_size"]
    assert "from .units import BINARY\n" not in merged  # an import adding nothing new is not repeated
    # a second binding of a name the answer still imports as before is junk
    rebinding = "from .units import BINARY, parse_size\nfrom bytesize import parse_size\n" + body
    assert splice_python(original, rebinding) == original


def test_changed_units_and_a_single_change():
    answer = "RATE = 3\ndef area(r):\n    return 0\ndef keep(x):\n    return x\n"
    assert changed_units(ORIGINAL, answer) == ["RATE", "area"]
    only_rate = splice_python(ORIGINAL, answer, only={"RATE"})
    assert only_rate == ORIGINAL.replace("RATE = 2", "RATE = 3")


def test_splice_gives_up_on_code_that_does_not_parse():
    assert splice_python(ORIGINAL, "def area(r) return 1") is None
    assert splice_python(ORIGINAL, "print('no definitions')") == ORIGINAL  # drops nothing, changes nothing
    assert splice_python("import os\n", "import os\nprint(os.sep)\n") is None  # no units on either side


def test_candidates_come_from_the_failure_and_never_include_tests(demo_repo):
    verdict = make_verifier(Workspace(demo_repo))()
    assert not verdict.passed
    ranked = candidate_files(Workspace(demo_repo), verdict.summary)
    assert ranked[0] == "mathlib/core.py"
    assert not any(is_test_file(p) for p in ranked)


def _run(repo, replies, settings=None, tmp_path=None):
    workspace = Workspace(repo)
    workspace.snapshot()
    verify = make_verifier(workspace)
    model = ScriptedModel(replies)
    traj = Trajectory(tmp_path / "t.jsonl") if tmp_path else None
    run = WholeFileRun(
        model, workspace, verify, settings=settings or AgentSettings(max_steps=6), trajectory=traj
    )
    return run.run(verify()), workspace


def _block(code: str) -> dict:
    return {"content": f"Here you go:\n```python\n{code}```\nHope it helps!"}


def test_a_bad_answer_is_reverted_and_the_next_one_fixes(demo_repo, tmp_path):
    core = demo_repo / "mathlib" / "core.py"
    original = core.read_text()
    worse = _block("def add(a, b):\n    return a * b\n\ndef multiply(a, b):\n    return a + b\n")
    good = _block("def add(a, b):\n    return a + b\n")
    outcome, workspace = _run(demo_repo, [worse, good], tmp_path=tmp_path)
    assert outcome.status == "fixed"
    assert outcome.steps == 2
    assert core.read_text() == original.replace(BUGGY_LINE, FIXED_LINE)
    events = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    temperatures = [e["temperature"] for e in events if e["type"] == "reply"]
    assert temperatures == sorted(temperatures)
    assert temperatures[0] < temperatures[1]  # a retry is warmer, so a greedy model can answer differently


def test_one_good_change_is_kept_from_an_answer_that_also_breaks_something(demo_repo, tmp_path):
    core = demo_repo / "mathlib" / "core.py"
    original = core.read_text()
    mixed = _block("def add(a, b):\n    return a + b\n\ndef multiply(a, b):\n    return a + b\n")
    outcome, _ = _run(demo_repo, [mixed], tmp_path=tmp_path)
    assert outcome.status == "fixed"
    assert outcome.steps == 1
    assert core.read_text() == original.replace(BUGGY_LINE, FIXED_LINE)


def test_progress_is_kept_when_fewer_tests_fail(demo_repo, tmp_path):
    core = demo_repo / "mathlib" / "core.py"
    core.write_text(core.read_text().replace("sum(values) / len(values)", "sum(values) / (len(values) + 1)"))
    fix_add = _block("def add(a, b):\n    return a + b\n")
    fix_mean = _block("def mean(values):\n    return sum(values) / len(values)\n")
    outcome, _ = _run(demo_repo, [fix_add, fix_mean], tmp_path=tmp_path)
    assert outcome.status == "fixed"
    assert FIXED_LINE in core.read_text()
    assert "sum(values) / len(values)" in core.read_text()


def test_replies_without_code_stop_after_three_and_change_nothing(demo_repo, tmp_path):
    before = (demo_repo / "mathlib" / "core.py").read_bytes()
    replies = [{"content": "I think you should add them."}] * 4
    outcome, workspace = _run(demo_repo, replies, tmp_path=tmp_path)
    assert outcome.status == "format_errors"
    assert outcome.steps == 3
    assert workspace.changed_files() == []
    assert (demo_repo / "mathlib" / "core.py").read_bytes() == before


def test_the_step_budget_ends_the_run(demo_repo, tmp_path):
    same = _block("def add(a, b):\n    return a - b + 0\n")
    outcome, workspace = _run(demo_repo, [same] * 5, settings=AgentSettings(max_steps=2), tmp_path=tmp_path)
    assert outcome.status == "max_steps"
    assert outcome.steps == 2
    assert workspace.changed_files() == []  # each failed attempt was put back
