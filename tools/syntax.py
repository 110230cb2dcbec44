"""The syntax gate for edits: would this change leave the file unparseable?

Python is checked with `compile()`; other languages with tree-sitter (an error or missing
node in the new tree). A file that did not parse before the edit is not gated, since the
edit cannot be blamed for it. Returns a one-line description for the model, or None.

Knows nothing about files on disk or the Workspace.
"""

from __future__ import annotations

from tools.filekinds import language
from tools.languages import first_error, for_path


def syntax_error(path: str, after: str, before: str | None = None) -> str | None:
    """Why `after` does not parse (and `before`, if given, did), or None when the edit is fine."""
    check = _python_error if language(path) == "python" else _tree_sitter_error
    problem = check(path, after)
    if problem is None or (before is not None and check(path, before) is not None):
        return None
    return problem


def _python_error(path: str, text: str) -> str | None:
    try:
        compile(text.lstrip("\ufeff"), path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        return f"SyntaxError: {exc.msg} ({path}, {where})"
    except ValueError as exc:  # e.g. source code string cannot contain null bytes
        return f"{type(exc).__name__}: {exc}"
    return None


def _tree_sitter_error(path: str, text: str) -> str | None:
    support = for_path(path)
    if support is None:
        return None
    tree = support.parse(text.encode("utf-8", "surrogateescape"))
    node = first_error(tree.root_node)
    if node is None:
        return None
    row, col = node.start_point
    if node.is_missing:
        what = f"missing `{node.type}`"
    else:
        snippet = node.text.decode("utf-8", "replace").split("\n")[0][:40] if node.text else ""
        what = f"unexpected `{snippet}`" if snippet else "syntax error"
    return f"{support.name} syntax error: {what} ({path}, line {row + 1}, column {col + 1})"
