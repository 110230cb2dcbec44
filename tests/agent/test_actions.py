"""The text action protocol: a table of replies and what the parser makes of them."""

from __future__ import annotations

import pytest
from agent_helpers import TOOL_SCHEMAS as TOOLS

from plt_agent.agent.actions import FormatError, first_closed_block, first_code_block, parse_action

CODE = "def f():\n    return {'a': 1}\n"

PARSES = [
    # the taught XML-ish form, with and without the closing tag (a stop sequence eats it)
    ("<function=view>\n<parameter=path>src/a.py</parameter>\n</function>", "view", {"path": "src/a.py"}),
    ("I will look.\n<function=view>\n<parameter=path>a.py</parameter>\n", "view", {"path": "a.py"}),
    # integer coercion from the schema
    (
        "<function=view><parameter=path>a.py</parameter><parameter=start>40</parameter></function>",
        "view",
        {"path": "a.py", "start": 40},
    ),
    # attribute spellings
    ('<function name="view"><parameter name="path">a.py</parameter></function>', "view", {"path": "a.py"}),
    # code travels verbatim: braces, quotes, indentation; one leading/trailing newline trimmed
    (
        f"<function=edit>\n<parameter=path>a.py</parameter>\n<parameter=old>\n{CODE}</parameter>\n"
        f"<parameter=new>\n{CODE.replace('1', '2')}</parameter>\n</function>",
        "edit",
        {"path": "a.py", "old": CODE.rstrip("\n"), "new": CODE.replace("1", "2").rstrip("\n")},
    ),
    # an unclosed last parameter (the reply was cut at the stop sequence)
    ("<function=bash>\n<parameter=command>ls -la\n", "bash", {"command": "ls -la"}),
    # JSON, bare / fenced / in tool_call tags / OpenAI function shape / string arguments
    ('{"name": "view", "arguments": {"path": "a.py"}}', "view", {"path": "a.py"}),
    ('Sure:\n```json\n{"tool": "view", "parameters": {"path": "b.py"}}\n```', "view", {"path": "b.py"}),
    (
        '<tool_call>\n{"name": "bash", "arguments": {"command": "pytest -q"}}\n</tool_call>',
        "bash",
        {"command": "pytest -q"},
    ),
    ('{"function": {"name": "view", "arguments": "{\\"path\\": \\"c.py\\"}"}}', "view", {"path": "c.py"}),
    # a fenced shell block is a bash action
    ("Run the tests:\n```bash\npython -m pytest -q\n```\n", "bash", {"command": "python -m pytest -q"}),
    # a tool without parameters
    ("<function=submit>\n</function>", "submit", {}),
]


@pytest.mark.parametrize(("reply", "name", "arguments"), PARSES)
def test_replies_that_parse(reply, name, arguments):
    action = parse_action(reply, TOOLS)
    assert (action.name, action.arguments) == (name, arguments)


def test_only_the_first_of_several_actions_counts():
    reply = "<function=view><parameter=path>a.py</parameter>\n<function=view><parameter=path>b.py</parameter>"
    action = parse_action(reply, TOOLS)
    assert action.arguments == {"path": "a.py"}
    assert any("one action" in note for note in action.notes)


FAILS = [
    ("", "Your reply was empty"),
    ("I think the bug is in add().", "has no action"),
    ("<function=open>\n<parameter=path>a.py</parameter>", "There is no tool named 'open'"),
    ("<function=view>\n<parameter=file>a.py</parameter>", "has no parameter 'file'"),
    (
        "<function=edit>\n<parameter=path>a.py</parameter>\n<parameter=old>x</parameter>",
        "needs the parameter 'new'",
    ),
    (
        "<function=view><parameter=path>a.py</parameter><parameter=start>ten</parameter>",
        "must be of type integer",
    ),
    ('{"name": "view", "arguments": "{not json"}', "not a JSON object"),
]


@pytest.mark.parametrize(("reply", "message"), FAILS)
def test_replies_that_fail_say_precisely_why(reply, message):
    with pytest.raises(FormatError) as info:
        parse_action(reply, TOOLS)
    assert message in str(info.value)


def test_no_action_message_shows_the_expected_form():
    with pytest.raises(FormatError) as info:
        parse_action("hello", TOOLS)
    assert "<function=view>" in str(info.value)
    assert "<parameter=path>" in str(info.value)


def test_first_code_block_takes_the_first_and_tolerates_a_cut_reply():
    reply = "Here:\n```python\nx = 1\n```\nand also\n```python\nx = 2\n```"
    assert first_code_block(reply) == ("python", "x = 1\n")
    assert first_code_block("```py\ny = 3\n") == ("py", "y = 3\n")
    assert first_closed_block("```py\ny = 3\n") is None
    assert first_code_block("no code here") is None
