"""File kinds by name: the one suffix table and the one test-file rule (once three rules that
disagreed: the agent's localisation, the repo map and the eval harness)."""

from __future__ import annotations

import pytest

from tools.filekinds import fence_lang, is_data, is_source, is_test_file, language


@pytest.mark.parametrize(
    ("path", "is_test"),
    [
        ("tests/test_x.py", True),
        ("pkg/tests/helpers.py", True),
        ("test_top.py", True),
        ("pkg/thing_test.py", True),
        ("pkg/thing_tests.py", True),  # the eval harness's rule
        ("conftest.py", True),  # the localiser's rule (the repo map missed it)
        ("pkg/testing/util.py", True),
        ("src/__tests__/app.js", True),  # the repo map's rules (the localiser missed them)
        ("spec/models/user.rb", True),
        ("web/app.spec.ts", True),
        ("web/app.test.mjs", True),
        ("server/handler_test.go", True),
        ("src/main/java/FooTest.java", True),
        ("test_data.json", True),  # the localiser's: any test_ file
        ("pkg/contest.py", False),
        ("pkg/attest.py", False),
        ("latest/x.py", False),
        ("pkg/tester.py", False),
        ("pkg/protest.js", False),
        ("src/spectrum.py", False),
        ("README.md", False),
    ],
)
def test_one_rule_for_test_files(path, is_test):
    assert is_test_file(path) is is_test


def test_one_table_of_suffixes():
    assert language("a/b.py") == language("stubs.PYI") == "python"
    assert language("app.tsx") == "tsx"
    assert language("data.json") == ""
    assert fence_lang("lib.rb") == "ruby"
    assert fence_lang("rates.cfg") == "ini"  # data files get a fence tag too
    assert fence_lang("notes.txt") == ""
    assert fence_lang("Makefile") == ""
    assert is_source("main.go")
    assert not is_data("main.go")
    assert is_data("config.yml")
    assert not is_source("config.yml")
    assert not is_source("README.md")
    assert not is_data("README.md")
