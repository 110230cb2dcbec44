"""What the whole-file strategy asks a model: the task, the whole file, one fenced block back.

One fresh prompt per attempt (tiny models do best without history). Only formats strings.
"""

from __future__ import annotations

from plt_agent.agent.context import head_tail
from tools.filekinds import fence_lang

SYSTEM = "You are an expert programmer. You fix bugs. You answer with code only."


def prompt(path: str, content: str, failure: str, task: str | None = None) -> list[dict[str, str]]:
    """The prompt for failing tests; `task`, the user's own words, goes first when given."""
    lang = fence_lang(path)
    asked = f"The user asks: {task.strip()}\n\n" if task and task.strip() else ""
    user = (
        f"{asked}The tests fail with this error:\n```\n{failure.strip()}\n```\n\n"
        f"This is the file {path}:\n```{lang}\n{content.rstrip()}\n```\n\n"
        f"Find the bug in {path} and fix it so the tests pass. "
        f"Reply with the complete corrected file {path} in one ```{lang} code block."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def issue_prompt(
    path: str, content: str, statement: str, usage: tuple[str, str] | None = None
) -> list[dict[str, str]]:
    """The prompt for an issue text: the report, how the file is used (optional), the file."""
    lang = fence_lang(path)
    parts = [f"A user reported this problem:\n\n{statement.strip()}"]
    if usage is not None:
        parts.append(f"This code in {usage[0]} uses {path}:\n```python\n{usage[1].rstrip()}\n```")
    parts.append(f"This is the file {path}:\n```{lang}\n{content.rstrip()}\n```")
    parts.append(
        f"Fix the problem by correcting {path}. "
        f"Reply with the complete corrected file {path} in one ```{lang} code block."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def failure_excerpt(text: str, max_chars: int = 1800) -> str:
    """The informative part of a test report: failing ids and traceback heads, kept short."""
    lines = [ln for ln in text.splitlines() if not ln.startswith("$ ")]
    return head_tail("\n".join(lines), max_chars)
