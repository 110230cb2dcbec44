"""Turning a small model's "corrected whole file" into the file contents worth testing.

`merge_answer(path, original, answer)` gives the candidates, best guess first:

- Python: the answer applied as the smallest change (`pysplice`: unchanged definitions keep
  their original text, docstrings and comments; a partial answer replaces only what it
  contains), then, when it changes several definitions, each change on its own (tiny models
  often fix one function and break another);
- other text files (data files such as .json/.ini/.toml, other languages): the answer merged
  line by line (`splice_lines`: lines the answer changes or adds are taken, each changed
  line in place of the original line it most resembles; lines it leaves out are kept, so a
  partial or truncated answer does not delete the rest of the file), then the answer as it is.

`check_answer` says why a candidate is unusable: it changes nothing (for Python: nothing but
comments or layout), it is empty, it does not parse (Python, JSON, TOML, INI), it adds data
keys in a style the file never uses (code pasted into an INI file parses as `key = value`),
or it is a test file instead of the source.
This module knows nothing about models, workspaces or tests.
"""

from __future__ import annotations

import ast
import configparser
import difflib
import json
import sys
from pathlib import PurePosixPath

from plt_agent.agent.wholefile.pysplice import changed_units, splice_python
from tools.filekinds import is_test_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MAX_SINGLE_CHANGES = 4  # per answer, how many one-definition variants are tested
SIMILAR_LINE = 0.5  # difflib ratio from which an answer line is taken as an edit of an original line


def merge_answer(path: str, original: str, answer: str) -> list[str]:
    """New contents for the file to try, best guess first (see the module docstring)."""
    if path.endswith(".py"):
        contents = _python_variants(original, answer)
    else:
        contents = [splice_lines(original, answer), answer]
    out = []
    for text in contents:
        if original.endswith("\n") and text and not text.endswith("\n"):
            text += "\n"
        if text not in out:
            out.append(text)
    return out


def _python_variants(original: str, answer: str) -> list[str]:
    changed = changed_units(original, answer)
    spliced = splice_python(original, answer) if changed is not None else None
    contents = [spliced if spliced is not None else answer]
    if changed and len(changed) > 1:
        contents += [
            splice_python(original, answer, only={name}) or "" for name in changed[:MAX_SINGLE_CHANGES]
        ]
    return contents


def splice_lines(original: str, answer: str) -> str:
    """`original` with the lines the answer replaces or adds; lines it leaves out are kept."""
    old = original.splitlines(keepends=True)
    new = answer.splitlines(keepends=True)
    if new and not new[-1].endswith("\n"):
        new[-1] += "\n"
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("delete", "equal"):
            out += old[i1:i2]
        elif op == "insert":
            out += new[j1:j2]
        else:
            out += _merge_block(old[i1:i2], new[j1:j2])
    text = "".join(out)
    if not original.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    return text


def _merge_block(old: list[str], new: list[str]) -> list[str]:
    """A replaced block: each answer line takes the place of the most similar original line
    (in order); original lines no answer line resembles are kept."""
    out: list[str] = []
    at = 0
    for line in new:
        scores = [(difflib.SequenceMatcher(None, old[k], line).ratio(), k) for k in range(at, len(old))]
        score, best = max(scores, default=(0.0, -1), key=lambda sk: (sk[0], -sk[1]))
        if score >= SIMILAR_LINE:
            out += old[at:best] + [line]
            at = best + 1
        else:
            out.append(line)
    return out + old[at:]


def check_answer(path: str, original: str, new: str) -> str:
    """Why `new` is unusable ('' when it is fine)."""
    if new.strip() == original.strip():
        return "the answer changes nothing"
    if not new.strip():
        return "the answer is empty"
    if path.endswith(".py"):
        return _python_problem(path, original, new)
    return _data_problem(path, original, new)


def _python_problem(path: str, original: str, new: str) -> str:
    try:
        tree = ast.parse(new)
    except SyntaxError as exc:
        return f"the answer does not parse (line {exc.lineno}: {exc.msg})"
    try:
        same_code = ast.dump(ast.parse(original)) == ast.dump(tree)
    except SyntaxError:
        same_code = False
    if same_code:
        return "the answer changes only comments or layout"
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    if names and all(n.startswith("test") for n in names) and not is_test_file(path):
        return "the answer is a test file, not the corrected source"
    return ""


def _data_problem(path: str, original: str, new: str) -> str:
    suffix = PurePosixPath(path).suffix.lower()
    try:
        keys = _data_keys(suffix, new)
    except (ValueError, configparser.Error) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"the answer is not valid {suffix[1:].upper()} ({first[:120]})"
    try:
        known = _data_keys(suffix, original)
    except (ValueError, configparser.Error):
        return ""
    style = set().union(*map(set, known)) if known else set()
    odd = sorted(
        k for k in keys - known if any(not c.isalnum() and c not in style | {"_", "-", "."} for c in k)
    )
    if known and odd:
        return f"the answer adds keys unlike the file's own ({odd[0][:40]!r})"
    return ""


def _data_keys(suffix: str, text: str) -> set[str]:
    """Every key (section and option names for INI) of a data file; raises on a parse error."""
    if suffix == ".json":
        return _nested_keys(json.loads(text))
    if suffix == ".toml":
        return _nested_keys(tomllib.loads(text))
    if suffix in (".ini", ".cfg"):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
        return set(parser.sections()) | {k for s in parser.sections() for k in parser[s]}
    return set()


def _nested_keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value} | set().union(*(_nested_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_nested_keys(v) for v in value))
    return set()
