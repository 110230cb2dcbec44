"""Applying a small model's rewritten Python file as the smallest change to the original.

Tiny models asked for "the whole corrected file" drop docstrings, blank lines and comments,
return only the function they fixed, or add junk. `splice_python(original, answer)` keeps
the original text everywhere the answer does not really change it:

- the units of a module are its top-level functions, classes and simple assignments
  (`NAME = ...`), matched by name;
- a unit whose code is the same as the original's (comparing syntax trees with docstrings
  left out) keeps the original text; a changed unit replaces it, and keeps the original's
  docstring and decorators when the answer dropped them;
- units only in the answer are appended when a changed unit uses them (tiny models invent
  unused helpers); units missing from the answer are kept (partial answers are normal);
  imports only in the answer are added after the original's imports when an applied unit
  uses a name they bring in, or when they import a name the original imports from
  elsewhere and the answer no longer does (a corrected import: the later binding wins);
  other new imports are junk and are left out.

An answer without units for an original with units changes no definition (only a
corrected import can come through): tiny models answer "the whole file" with a few stray
statements. Returns None when either text does not parse or neither has units: the caller
then decides what to do with the raw answer. This module knows nothing about models or files.
"""

from __future__ import annotations

import ast
import copy

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def splice_python(original: str, answer: str, only: set[str] | None = None) -> str | None:
    """`original` with the answer's changes applied (see the module docstring).

    `only` limits the changes to those units (by name); new units come along only when a
    unit that is applied mentions them."""
    try:
        old_tree, new_tree = ast.parse(original), ast.parse(answer)
    except SyntaxError:
        return None
    old_units, new_units = _units(old_tree), _units(new_tree)
    if not new_units and not old_units:
        return None
    lines = original.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    new_lines = answer.splitlines(keepends=True)
    changed = [n for n in changed_units(original, answer) or [] if only is None or n in only]
    edits: list[tuple[int, int, list[str]]] = []  # (first line, last line, replacement), 1-based
    for name in changed:
        old, node = old_units[name], new_units[name]
        first = old.lineno if _dropped_decorators(old, node) else _first_line(old)
        edits.append((first, old.end_lineno or old.lineno, _with_docstring(old, node, lines, new_lines)))
    for first, last, replacement in sorted(edits, reverse=True):
        lines[first - 1 : last] = replacement
    needed = _needed_new_units(new_units, old_units, changed)
    used = _used_names([new_units[n] for n in changed + needed])
    shift = _shift(edits, _last_import_line(old_tree))
    _add_imports(lines, old_tree, new_tree, new_lines, shift=shift, used=used)
    for name in needed:
        lines += ["\n", "\n", *_segment(new_lines, new_units[name])]
    return "".join(lines)


def changed_units(original: str, answer: str) -> list[str] | None:
    """Names of the original's units that the answer changes, in file order (None: no parse)."""
    try:
        old_units, new_units = _units(ast.parse(original)), _units(ast.parse(answer))
    except SyntaxError:
        return None
    return [name for name, old in old_units.items() if name in new_units and not _same(old, new_units[name])]


def _needed_new_units(
    new_units: dict[str, ast.stmt], old_units: dict[str, ast.stmt], applied: list[str]
) -> list[str]:
    """Units only in the answer that an applied unit uses (directly or through each other)."""
    fresh = [name for name in new_units if name not in old_units]
    needed: list[str] = []
    frontier = list(applied)
    while frontier:
        used = {n.id for n in ast.walk(new_units[frontier.pop()]) if isinstance(n, ast.Name)}
        for name in fresh:
            if name in used and name not in needed:
                needed.append(name)
                frontier.append(name)
    return [name for name in fresh if name in needed]


def _units(tree: ast.Module) -> dict[str, ast.stmt]:
    units: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, _DEFS):
            units[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                units[targets[0].id] = node
    return units


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _segment(lines: list[str], node: ast.stmt) -> list[str]:
    segment = lines[_first_line(node) - 1 : node.end_lineno]
    if segment and not segment[-1].endswith("\n"):
        segment[-1] += "\n"
    return segment


def _docstring_node(node: ast.stmt) -> ast.Expr | None:
    body = getattr(node, "body", None)
    first = body[0] if body else None
    is_text = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    return first if is_text and isinstance(first.value.value, str) else None  # type: ignore[union-attr]


def _without_docstrings(node: ast.stmt) -> ast.stmt:
    clone = copy.deepcopy(node)
    for sub in ast.walk(clone):
        if isinstance(sub, _DEFS) and _docstring_node(sub) is not None and len(sub.body) > 1:
            sub.body = sub.body[1:]
        elif isinstance(sub, _DEFS) and _docstring_node(sub) is not None:
            sub.body = [ast.Pass()]
    return clone


def _dropped_decorators(old: ast.stmt, new: ast.stmt) -> bool:
    """The answer left out all of the original's decorators (small models do; rarely on purpose)."""
    return bool(getattr(old, "decorator_list", None)) and not getattr(new, "decorator_list", None)


def _same(old: ast.stmt, new: ast.stmt) -> bool:
    old, new = _without_docstrings(old), _without_docstrings(new)
    if _dropped_decorators(old, new):
        old.decorator_list = []  # type: ignore[attr-defined]
    return ast.dump(old) == ast.dump(new)


def _with_docstring(old: ast.stmt, new: ast.stmt, old_lines: list[str], new_lines: list[str]) -> list[str]:
    """The answer's unit text, with the original docstring put back if the answer dropped it."""
    segment = _segment(new_lines, new)
    old_doc = _docstring_node(old)
    body = getattr(new, "body", None)
    if old_doc is None or not body or _docstring_node(new) is not None:
        return segment
    doc = old_lines[old_doc.lineno - 1 : old_doc.end_lineno]
    indent_old = _indent(doc[0])
    indent_new = _indent(new_lines[body[0].lineno - 1])
    if indent_old != indent_new:
        return segment
    at = body[0].lineno - _first_line(new)
    return segment[:at] + doc + segment[at:]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _import_dumps(tree: ast.Module) -> set[str]:
    return {ast.dump(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}


def _last_import_line(tree: ast.Module) -> int:
    """The line after which new imports go: the last import, else the module docstring, else 0."""
    ends = [n.end_lineno or n.lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    if not ends and tree.body and _docstring_node(tree) is not None:  # type: ignore[arg-type]
        ends = [tree.body[0].end_lineno or 1]
    return max(ends, default=0)


def _shift(edits: list[tuple[int, int, list[str]]], line: int) -> int:
    """How far edits above `line` moved it."""
    return sum(len(rep) - (last - first + 1) for first, last, rep in edits if last <= line)


def _bindings(node: ast.Import | ast.ImportFrom) -> set[tuple[str, str]]:
    """(bound name, where it comes from) for each name an import binds."""
    source = f"{'.' * node.level}{node.module or ''}:" if isinstance(node, ast.ImportFrom) else ""
    return {(alias.asname or alias.name.split(".")[0], source + alias.name) for alias in node.names}


def _all_bindings(tree: ast.Module) -> set[tuple[str, str]]:
    nodes = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return set().union(*(_bindings(n) for n in nodes))


def _corrected_names(old_tree: ast.Module, new_tree: ast.Module) -> set[str]:
    """Names the original imports that the answer imports only from somewhere else."""
    old, new = _all_bindings(old_tree), _all_bindings(new_tree)
    new_names = {name for name, _ in new}
    return {name for name, source in old if name in new_names and (name, source) not in new}


def _used_names(units: list[ast.stmt]) -> set[str]:
    return {n.id for unit in units for n in ast.walk(unit) if isinstance(n, ast.Name)}


def _add_imports(
    lines: list[str],
    old_tree: ast.Module,
    new_tree: ast.Module,
    new_lines: list[str],
    shift: int,
    used: set[str],
) -> None:
    """Add the answer's new imports of a name an applied unit uses and the original does not
    import, or of a name the answer imports from elsewhere instead (a corrected import).
    Tiny models add junk imports: unused ones, or second bindings of names already imported."""
    old_bindings = _all_bindings(old_tree)
    old_names = {name for name, _ in old_bindings}
    corrected = _corrected_names(old_tree, new_tree)
    known = _import_dumps(old_tree)

    def wanted(name: str) -> bool:
        return name in corrected or (name in used and name not in old_names)

    extra = [
        n
        for n in new_tree.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        and ast.dump(n) not in known
        and any(wanted(name) for name, _ in _bindings(n) - old_bindings)
    ]
    if not extra:
        return
    at = _last_import_line(old_tree) + shift
    added = [line for node in extra for line in _segment(new_lines, node)]
    lines[at:at] = added
