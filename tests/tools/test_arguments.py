"""One argument rule for the agent's action parser and the tool registry: the same coercions
and the same problems, worded for each (once two rules: the parser took "yes" for true and
the registry did not; the registry took one string for a list and the parser did not)."""

from __future__ import annotations

import pytest

from plt_agent.agent.actions import Action, FormatError, check_action
from tools.arguments import ArgumentError, check_arguments
from tools.registry import get_tool, validate_args

SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "start": {"type": "integer"},
        "regex": {"type": "boolean"},
        "tests": {"type": "array", "items": {"type": "string"}},
        "env": {"type": "object"},
    },
    "required": ["path"],
}

COERCED = [
    ({"path": "a.py", "start": "40"}, {"path": "a.py", "start": 40}),
    ({"path": "a.py", "start": 3.0}, {"path": "a.py", "start": 3}),
    ({"path": "a.py", "regex": "yes"}, {"path": "a.py", "regex": True}),
    ({"path": "a.py", "regex": " False "}, {"path": "a.py", "regex": False}),
    ({"path": "a.py", "tests": "t.py"}, {"path": "a.py", "tests": ["t.py"]}),
    ({"path": "a.py", "tests": '["t.py", "u.py"]'}, {"path": "a.py", "tests": ["t.py", "u.py"]}),
    ({"path": "a.py", "env": '{"A": "1"}'}, {"path": "a.py", "env": {"A": "1"}}),
    ({"path": "a.py", "start": None}, {"path": "a.py"}),  # null is "not given"
]


@pytest.mark.parametrize(("given", "checked"), COERCED)
def test_harmless_coercions_are_the_same_for_the_parser_and_the_registry(given, checked):
    assert check_arguments("view", SCHEMA, dict(given)) == checked
    tool = {"name": "view", "description": "", "parameters": SCHEMA}
    assert check_action(Action("view", dict(given)), {"view": tool}).arguments == checked


PROBLEMS = [
    ({"start": "1"}, "missing", "needs the parameter 'path'", "missing required argument(s) path"),
    ({"path": "a", "file": "b"}, "unknown", "has no parameter 'file'", "unknown argument(s) file"),
    ({"path": "a", "start": "ten"}, "type", "must be of type integer, got 'ten'", "must be integer"),
    ({"path": "a", "regex": "maybe"}, "type", "must be of type boolean", "must be boolean"),
    ({"path": ["a"]}, "type", "must be of type string", "must be string"),
]


@pytest.mark.parametrize(("given", "problem", "for_parser", "for_registry"), PROBLEMS)
def test_the_same_problems_worded_for_each_caller(given, problem, for_parser, for_registry):
    with pytest.raises(ArgumentError) as info:
        check_arguments("view", SCHEMA, given)
    assert info.value.problem == problem
    assert for_registry in str(info.value)
    tool = {"name": "view", "description": "", "parameters": SCHEMA}
    with pytest.raises(FormatError, match=for_parser):
        check_action(Action("view", dict(given)), {"view": tool})


def test_the_registry_uses_the_rule_for_real_tools():
    assert validate_args(get_tool("search"), {"pattern": "x", "regex": "no"}) == {
        "pattern": "x",
        "regex": False,
    }
    assert validate_args(get_tool("view"), '{"path": "a.py", "start": "2"}') == {"path": "a.py", "start": 2}


def test_a_tool_without_parameters_takes_and_drops_any():
    assert check_arguments("submit", {"type": "object", "properties": {}}, {"why": "done"}) == {}
