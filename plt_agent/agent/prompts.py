"""Every text the agent shows a model: system prompts, task messages, feedback.

The system prompt and the tool list are byte-stable for a given tool set (no dates, no
paths, no counters), so a backend can reuse the KV cache of that prefix on every turn;
what varies (the repository map, test output) goes into the first user message, after it.
This module only formats strings; it knows nothing about models or running tools.
"""

from __future__ import annotations

import json
from typing import Any

SYSTEM_INTRO = """\
You are plt-agent, a coding assistant working inside a software repository on the user's machine.
You solve the task by using tools, one tool per reply, and reading what each returns."""

TEXT_PROTOCOL = """\
To use a tool, reply with one block in exactly this form and write nothing after it:

<function=TOOL_NAME>
<parameter=PARAMETER_NAME>value</parameter>
</function>

Write parameter values as plain text, code included (no quotes, no JSON, no escaping).
You will then see the tool's output and can choose the next tool."""

NATIVE_PROTOCOL = """\
Call the provided tools, one call per reply. You will see each tool's output and can choose the next call."""

FINISH_FIX = """\
Work method: read the failing test output, open the code it points to, find the bug in the source \
code (not in the tests), fix it with the smallest change, then run the tests. When they pass, call submit."""

FINISH_CHAT = """\
When you have the answer, or the change the user asked for is done, reply in plain text \
without a tool call."""

EXAMPLE = """\
Example of a correct reply:

<function=view>
<parameter=path>src/app.py</parameter>
</function>"""


def tool_spec(tool: dict[str, Any]) -> str:
    """One tool described for the text protocol: name, description, parameters."""
    schema = tool.get("parameters") or {}
    required = set(schema.get("required") or [])
    lines = [f"## {tool['name']}", str(tool.get("description") or "").strip(), "Parameters:"]
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type", "string")
        need = "required" if name in required else "optional"
        desc = str(prop.get("description") or "").strip()
        lines.append(f"- {name} ({kind}, {need}){': ' + desc if desc else ''}")
    if not schema.get("properties"):
        lines.append("- (none)")
    return "\n".join(lines)


def system_prompt(tools: list[dict[str, Any]], *, native: bool, purpose: str = "fix") -> str:
    finish = FINISH_FIX if purpose == "fix" else FINISH_CHAT
    if native:
        return "\n\n".join([SYSTEM_INTRO, NATIVE_PROTOCOL, finish])
    specs = "\n\n".join(tool_spec(t) for t in tools)
    has_view = any(t["name"] == "view" for t in tools)
    parts = [SYSTEM_INTRO, TEXT_PROTOCOL, "# Tools\n\n" + specs]
    if has_view:
        parts.append(EXAMPLE)
    parts.append(finish)
    return "\n\n".join(parts)


def fix_task(
    *, message: str | None, test_cmd: str | None, test_output: str | None, repo_map: str | None
) -> str:
    """The first user message of a fix run."""
    parts = []
    if message:
        parts.append(f"Task: {message.strip()}")
    else:
        parts.append("Task: make the failing tests pass by fixing the code.")
    if test_output:
        parts.append(f"The test command `{test_cmd}` fails:\n```\n{test_output.strip()}\n```")
    elif test_cmd:
        parts.append(f"The tests run with `{test_cmd}`.")
    if repo_map:
        parts.append(f"Repository map (the most relevant files and definitions):\n{repo_map.strip()}")
    return "\n\n".join(parts)


def observation(name: str, text: str, ok: bool) -> str:
    """A tool's output as the text protocol shows it."""
    status = "" if ok else " (failed)"
    body = text if text.strip() else "(the tool ran and printed nothing)"
    return f"Output of {name}{status}:\n{body}"


def format_error(message: str, n: int, limit: int) -> str:
    return f"Format error ({n} of {limit} allowed in a row): {message}"


def repeated_action(name: str) -> str:
    return (
        f"You already ran this exact {name} action and nothing has changed since, so it would give the same "
        "output. Do something different: look at another file, make an edit, or submit."
    )


def tests_still_fail(summary: str) -> str:
    return f"The tests still fail:\n{summary.strip()}"


def declined(name: str) -> str:
    return f"The user declined to run this {name} action. Choose another way."


def not_run(name: str) -> str:
    return (
        f"Not run: only the first tool call of a reply runs (this was {name}). Call it again if you need it."
    )


def arguments_text(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, ensure_ascii=False)
