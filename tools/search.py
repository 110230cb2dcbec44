"""`search` (text in files) and `find` (paths by glob), both within the repository's files.

Both walk `Workspace.files()`, so .gitignore is respected. `search` is literal unless
`regex` is true, skips binary and huge files, reports matching files with counts before the
hits, and refuses to list more than 100 files (the model should narrow the search).
A model's regular expression runs on the `regex` engine under a time budget for the whole
search (REGEX_SECONDS): a pattern that backtracks for ever, such as `(a+)+$` on a long line,
ends in a tool error instead of a hung run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import regex as regex_engine

from tools.base import Observation, ToolError, arg, schema
from tools.repofiles import MAX_TEXT_BYTES, is_binary
from tools.text import clip_line, printable
from tools.workspace import Workspace

MAX_FILES = 100
MAX_FILES_WITH_LINES = 20  # above this, only files and counts are listed
MAX_HITS = 50
MAX_FOUND = 200
REGEX_SECONDS = 5.0

Matcher = Callable[[str], bool]


class SearchTool:
    name = "search"
    mutates = False
    description = (
        "Search the repository's files for text (literal and case-sensitive; set regex=true for "
        "a Python regular expression). Lists matching files with counts, then the matching "
        f"lines as path:line: text. More than {MAX_FILES} matching files is refused: narrow it "
        "with `path` or a more specific pattern."
    )
    parameters = schema(
        pattern=arg("string", "The text (or regex) to look for."),
        path=arg("string", "Only search this file or folder (default: whole repo)."),
        regex=arg("boolean", "Treat pattern as a regular expression (default false)."),
        required=("pattern",),
    )

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation:
        pattern = args["pattern"]
        if not pattern:
            raise ToolError("empty pattern: give the text to search for")
        matcher = _compile(pattern, bool(args.get("regex")))
        files = _scope(workspace, args.get("path"))
        counts: dict[str, int] = {}
        hits: list[str] = []
        for rel in files:
            found = _search_file(workspace, rel, matcher)
            if found:
                counts[rel] = len(found)
                hits.extend(f"{rel}:{n}: {clip_line(line.strip(), 200)}" for n, line in found[:MAX_HITS])
        return _report(pattern, counts, hits)


def _compile(pattern: str, regex: bool) -> Matcher:
    if not regex:
        literal = re.compile(re.escape(pattern))
        return lambda text: literal.search(text) is not None
    try:
        compiled = regex_engine.compile(pattern)
    except (regex_engine.error, re.error, OverflowError, RecursionError) as exc:
        raise ToolError(
            f"invalid regular expression {printable(pattern, 200)}: {printable(exc, 200)}. "
            "Fix it, or drop regex=true to search literally"
        ) from None
    deadline = time.monotonic() + REGEX_SECONDS

    def matches(text: str) -> bool:
        try:
            return compiled.search(text, timeout=max(deadline - time.monotonic(), 0.001)) is not None
        except TimeoutError:
            raise ToolError(
                f"the regular expression {printable(pattern, 200)} took over {REGEX_SECONDS:g} s "
                "(nested repeats such as (a+)+ backtrack without end): simplify it, or drop regex=true"
            ) from None

    return matches


def _scope(workspace: Workspace, path: str | None) -> list[str]:
    files = workspace.files()
    if not path or path.strip() in (".", "./"):
        return files
    target = workspace.resolve(path)
    rel = workspace.relpath(target)
    if target.is_file():
        return [rel]
    if not target.is_dir():
        raise ToolError(f"{printable(path)} does not exist; search the whole repo by leaving out path")
    return [f for f in files if f.startswith(rel + "/")]


def _search_file(workspace: Workspace, rel: str, matcher: Matcher) -> list[tuple[int, str]]:
    path = workspace.root / rel
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            return []
        data = path.read_bytes()
    except OSError:
        return []
    if is_binary(data):
        return []
    text = data.decode("utf-8", "replace")
    if not matcher(text):
        return []
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if matcher(line)]


def _report(pattern: str, counts: dict[str, int], hits: list[str]) -> Observation:
    data = {"files": counts, "total": sum(counts.values())}
    if not counts:
        return Observation(f"No matches for {pattern!r}.", data=data)
    if len(counts) > MAX_FILES:
        return Observation(
            f"{pattern!r} matches {data['total']} lines in {len(counts)} files: too many to list. "
            "Use a more specific pattern or limit the search with `path`.",
            ok=False,
            data=data,
        )
    lines = [f"{data['total']} matches in {len(counts)} files:"]
    lines += [f"  {rel} ({n})" for rel, n in counts.items()]
    if len(counts) > MAX_FILES_WITH_LINES:
        lines.append(
            f"[lines not shown for more than {MAX_FILES_WITH_LINES} files; narrow with `path` to see them]"
        )
        return Observation("\n".join(lines), data=data)
    lines.append("")
    lines += hits[:MAX_HITS]
    if len(hits) > MAX_HITS or data["total"] > len(hits):
        hidden = data["total"] - min(len(hits), MAX_HITS)
        lines.append(f"[... {hidden} more matching lines not shown; narrow the search]")
    return Observation("\n".join(lines), data=data)


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over POSIX relative paths: `*` and `?` stay in one folder, `**` spans many.

    A pattern without '/' matches the file or folder name at any depth.
    """
    given = pattern
    pattern = pattern.strip().removeprefix("./")
    if "/" not in pattern:
        pattern = "**/" + pattern
    out, i = [], 0
    while i < len(pattern):
        regex, used = _glob_token(pattern, i)
        out.append(regex)
        i += used
    try:
        return re.compile("".join(out) + r"\Z")
    except re.error as exc:  # a bracket such as [z-a]
        raise ToolError(
            f"invalid glob {printable(given, 200)}: {exc.msg} in a [...] set; "
            "write ranges low-high, e.g. [a-z]"
        ) from None


def _glob_token(pattern: str, i: int) -> tuple[str, int]:
    """The regex for the glob token at `i` and how many pattern characters it used."""
    if pattern.startswith("**/", i):
        return "(?:.*/)?", 3
    if pattern.startswith("**", i):
        return ".*", 2
    ch = pattern[i]
    if ch == "*":
        return "[^/]*", 1
    if ch == "?":
        return "[^/]", 1
    close = pattern.find("]", i + 2) if ch == "[" else -1
    if close != -1 and pattern[i + 1 : close] not in ("!", "^"):
        body = pattern[i + 1 : close]
        body = "^" + body[1:] if body.startswith("!") else body
        return "[" + body.replace("\\", "\\\\") + "]", close - i + 1
    return re.escape(ch), 1


class FindTool:
    name = "find"
    mutates = False
    description = (
        "Find files and folders by glob: `*.py` or `test_*` match names at any depth; "
        "`src/**/*.ts` matches under a folder (`**` spans folders). Ignored files are skipped."
    )
    parameters = schema(glob=arg("string", "The pattern, e.g. `**/conftest.py`."), required=("glob",))

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation:
        glob = args["glob"].strip()
        if not glob:
            raise ToolError("empty glob: give a pattern such as `*.py` or `src/**/test_*.py`")
        regex = glob_to_regex(glob)
        files = workspace.files()
        folders = sorted({f.rsplit("/", i)[0] for f in files for i in range(1, f.count("/") + 1)})
        found = [d + "/" for d in folders if regex.match(d)] + [f for f in files if regex.match(f)]
        data = {"matches": found[:MAX_FOUND], "total": len(found)}
        if not found:
            return Observation(f"No files or folders match {glob!r}.", data=data)
        more = (
            f"\n[... {len(found) - MAX_FOUND} more; use a narrower pattern]" if len(found) > MAX_FOUND else ""
        )
        return Observation(
            f"{len(found)} matches for {glob!r}:\n" + "\n".join(found[:MAX_FOUND]) + more, data=data
        )
