"""The text action protocol: turning a model's reply into one tool call, forgivingly.

Small local models rarely produce perfect tool calls, so `parse_action` accepts, in order:

1. the XML-ish form the system prompt teaches (OpenHands' mock function calling):
   `<function=NAME><parameter=KEY>VALUE</parameter>...</function>` (the closing tag may be
   missing: it is a stop sequence; `<parameter name="KEY">` and `<function name="NAME">` too);
2. a JSON object `{"name": ..., "arguments": {...}}` (also "tool"/"function" and
   "parameters"/"args"), bare, fenced, or inside `<tool_call>` tags;
3. a fenced shell block (```bash / ```sh / ```shell) as a `bash` command.

Only the FIRST action counts. Argument values are converted to the types the tool's JSON
schema asks for (`tools.arguments`, the registry's own rule). Anything else raises
`FormatError` whose message tells the model exactly what was wrong and what a correct reply
looks like. `action_complete` says when a streamed reply already holds a whole first action
(so generation can stop there) and `ACTION_OPENER` finds where one starts.
`first_code_block` serves the whole-file strategy. This module knows
nothing about running tools or models.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tools.arguments import ArgumentError, check_arguments

# Generation ends right after the first complete action of either tag form (the closing tag
# itself is cut off; `_xml_action` does not need it). Fenced and JSON actions are ended by the
# caller's `action_complete` check instead: their closing text also opens the next block.
STOP_SEQUENCES = ["</function>", "</tool_call>"]
ACTION_OPENER = re.compile(r"<function|<tool_call|\{|^[ \t]*(?:```|~~~)", re.MULTILINE)


class FormatError(Exception):
    """The reply holds no usable action; the message is written for the model."""


@dataclass
class Action:
    name: str
    arguments: dict[str, Any]
    call_id: str = ""
    native: bool = False  # came as a native tool call
    notes: list[str] = field(default_factory=list)  # remarks for the model (e.g. extra actions ignored)

    def key(self) -> str:
        """A canonical string for repeated-action detection."""
        return self.name + json.dumps(self.arguments, sort_keys=True, ensure_ascii=False)


_FUNCTION = re.compile(r"<function(?:=|\s+name=)[\"']?([\w.-]+)[\"']?\s*>", re.IGNORECASE)
_FUNCTION_END = re.compile(r"</function\s*>", re.IGNORECASE)
_PARAM = re.compile(
    r"<parameter(?:=|\s+name=)[\"']?([\w.-]+)[\"']?\s*>(.*?)(?:</parameter\s*>|(?=<parameter[=\s])|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_FENCE = re.compile(
    r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+.#-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL
)
_OPEN_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+.#-]*)[^\n]*\n(.*)\Z", re.MULTILINE | re.DOTALL)
_SHELL_LANGS = {"bash", "sh", "shell", "console", "zsh"}


def parse_action(text: str, tools: list[dict[str, Any]]) -> Action:
    """The first action in `text`, checked against the tool schemas (name/description/parameters)."""
    by_name = {t["name"]: t for t in tools}
    for finder in (_xml_action, _json_action, _shell_action):
        found = finder(text, by_name)
        if found is not None:
            return check_action(found, by_name)
    raise FormatError(_no_action_message(text, by_name))


def check_action(action: Action, by_name: dict[str, dict[str, Any]]) -> Action:
    """Validate the tool name and the arguments, coerced to the schema's types
    (`tools.arguments.check_arguments`); problems are FormatErrors worded for the model."""
    tool = by_name.get(action.name)
    if tool is None:
        raise FormatError(f"There is no tool named {action.name!r}. Available tools: {', '.join(by_name)}.")
    try:
        action.arguments = check_arguments(action.name, tool.get("parameters") or {}, action.arguments)
    except ArgumentError as exc:
        raise FormatError(_argument_problem(exc, tool)) from None
    return action


def _argument_problem(exc: ArgumentError, tool: dict[str, Any]) -> str:
    name, key = tool["name"], exc.keys[0]
    if exc.problem == "unknown":
        known = ", ".join((tool.get("parameters") or {}).get("properties") or {}) or "none"
        return f"Tool {name!r} has no parameter {key!r}. Its parameters: {known}."
    if exc.problem == "missing":
        return f"Tool {name!r} needs the parameter {key!r}. {_usage(tool)}"
    got = exc.value.strip()[:80] if isinstance(exc.value, str) else exc.value
    return f"Parameter {key!r} of tool {name!r} must be of type {exc.expected}, got {got!r}."


def _xml_action(text: str, by_name: dict[str, dict[str, Any]]) -> Action | None:
    match = _FUNCTION.search(text)
    if match is None:
        return None
    body = text[match.end() :]
    end = _FUNCTION_END.search(body)
    body = body[: end.start()] if end else body
    nxt = _FUNCTION.search(body)
    notes = []
    if nxt:
        body = body[: nxt.start()]
        notes.append("Only your first action was run: send one action per reply.")
    args = {m.group(1): _strip_value(m.group(2)) for m in _PARAM.finditer(body)}
    return Action(match.group(1), args, notes=notes)


def _strip_value(value: str) -> str:
    """Drop the single newline that usually follows `<parameter=x>` and precedes its closing tag."""
    if value.startswith("\n"):
        value = value[1:]
    if value.endswith("\n"):
        value = value[:-1]
    return value


def _json_action(text: str, by_name: dict[str, dict[str, Any]]) -> Action | None:
    for candidate in _json_candidates(text):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = value[0]
        if not isinstance(value, dict):
            continue
        name = value.get("name") or value.get("tool") or value.get("function")
        if isinstance(name, dict):  # {"function": {"name": ..., "arguments": ...}}
            value, name = name, name.get("name")
        if not isinstance(name, str):
            continue
        args = value.get("arguments", value.get("parameters", value.get("args", {})))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                raise FormatError(f"The arguments of your {name!r} call are not a JSON object.") from None
        if isinstance(args, dict):
            return Action(name, args)
    return None


def _json_candidates(text: str) -> list[str]:
    out = [m.group(3) for m in _FENCE.finditer(text) if m.group(2).lower() in ("", "json")]
    out += re.findall(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", text, re.DOTALL)
    start = text.find("{")
    if start >= 0:
        out.append(_balanced(text, start))
    return out


def _balanced(text: str, start: int) -> str:
    """The JSON object starting at `start`, by brace counting outside strings."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            escaped = not escaped and ch == "\\"
            if ch == '"' and not escaped:
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return text[start:]


def _shell_action(text: str, by_name: dict[str, dict[str, Any]]) -> Action | None:
    if "bash" not in by_name:
        return None
    for match in _FENCE.finditer(text):
        if match.group(2).lower() in _SHELL_LANGS and match.group(3).strip():
            return Action("bash", {"command": match.group(3).strip()})
    return None


def action_complete(text: str) -> bool:
    """Whether `text` already holds one whole action (the rest of a reply would be ignored)."""
    match = _FUNCTION.search(text)
    if match is not None:
        return _FUNCTION_END.search(text, match.end()) is not None
    if re.search(r"<tool_call>.*?</tool_call>", text, re.DOTALL):
        return True
    for fence in _FENCE.finditer(text):
        if fence.group(2).lower() in _SHELL_LANGS and fence.group(3).strip():
            return True
    start = text.find("{")
    if start < 0:
        return False
    candidate = _balanced(text, start)
    if not candidate.endswith("}"):
        return False
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and any(k in value for k in ("name", "tool", "function"))


def first_closed_block(text: str) -> tuple[str, str] | None:
    """(language, code) of the first fenced block that is closed, else None."""
    match = _FENCE.search(text)
    return (match.group(2).lower(), match.group(3)) if match else None


def first_code_block(text: str) -> tuple[str, str] | None:
    """(language, code) of the first fenced block; an unclosed final fence counts (the reply was cut)."""
    match = _FENCE.search(text)
    if match is None:
        match = _OPEN_FENCE.search(text)
    if match is None:
        return None
    return match.group(2).lower(), match.group(3)


def _usage(tool: dict[str, Any]) -> str:
    props = (tool.get("parameters") or {}).get("properties") or {}
    params = "".join(f"<parameter={k}>...</parameter>\n" for k in props)
    return f"Use it like this:\n<function={tool['name']}>\n{params}</function>"


def _example(tool: dict[str, Any]) -> str:
    """A minimal call of `tool`: its required parameters, with placeholder values."""
    schema = tool.get("parameters") or {}
    props = schema.get("properties") or {}
    keys = [k for k in schema.get("required") or [] if k in props] or list(props)[:1]
    params = "".join(f"<parameter={k}>{_placeholder(k, props[k])}</parameter>\n" for k in keys)
    return f"<function={tool['name']}>\n{params}</function>"


def _placeholder(key: str, prop: dict[str, Any]) -> str:
    if key == "path":
        return "src/app.py"
    return {"integer": "1", "number": "1", "boolean": "true"}.get(str(prop.get("type")), key.upper())


def _no_action_message(text: str, by_name: dict[str, dict[str, Any]]) -> str:
    """Short on purpose: small models copy long messages back instead of acting."""
    size = len(text.strip())
    what = f"Your reply ({size} characters) has no action." if size else "Your reply was empty."
    first = next(iter(by_name.values()), None)
    example = f" For example:\n{_example(first)}" if first else ""
    return f"{what} Reply with one action and nothing else.{example}"
