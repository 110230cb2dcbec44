"""Definitions and references of each source file, extracted with tree-sitter and cached by mtime.

A file's tags are its definitions (name, kind, first and last line, from the grammar's tags
query) and a count of the identifiers it uses that are not its own definition names (the
references). Names of data files the source mentions (`"currencies.json"`, `rates.ini`)
count as references too, keyed `file:<name>`, so code can point at the data it loads.

`TagIndex.load(files)` returns the tags of a list of files, re-parsing only files whose size
or mtime changed since the JSON cache was written; a progress bar goes to stderr when many
files need parsing and stderr is a terminal.

Knows nothing about ranking or rendering.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tools.filekinds import DATA
from tools.journal import atomic_write_bytes
from tools.languages import for_path, language_name

CACHE_VERSION = 2
FILE_REF = "file:"  # prefix of references to data files by name
_DATA_NAME = re.compile(rb"[\w.-]+\.(?:" + "|".join(s[1:] for s in DATA).encode() + rb")\b")
MAX_SOURCE_BYTES = 1_000_000  # bigger files (generated, minified) are not parsed
PROGRESS_MIN_FILES = 200


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str  # function, class, method, type, constant, ...
    line: int  # 0-based first line of the definition
    end_line: int  # 0-based last line


@dataclass
class FileTags:
    defs: list[Definition] = field(default_factory=list)
    refs: Counter[str] = field(default_factory=Counter)


def extract(path: str, source: bytes) -> FileTags:
    """The tags of one file's source (empty when there is no grammar for it)."""
    from tree_sitter import QueryCursor

    support = for_path(path)
    if support is None or len(source) > MAX_SOURCE_BYTES:
        return FileTags()
    root = support.parse(source).root_node
    defs, def_positions = [], set()
    for _, captures in QueryCursor(support.tags).matches(root):
        kind = next((k for k in captures if k.startswith("definition.")), None)
        names = captures.get("name")
        if kind is None or not names:
            continue
        name_node, def_node = names[0], captures[kind][0]
        def_positions.add(name_node.start_byte)
        name = name_node.text.decode("utf-8", "replace")
        defs.append(Definition(name, kind.split(".", 1)[1], def_node.start_point[0], def_node.end_point[0]))
    refs: Counter[str] = Counter()
    for node in QueryCursor(support.identifiers).captures(root).get("ref", []):
        if node.start_byte not in def_positions and node.end_byte - node.start_byte <= 80:
            refs[node.text.decode("utf-8", "replace")] += 1
    for name in _DATA_NAME.findall(source):
        refs[FILE_REF + name.decode("utf-8", "replace")] += 1
    unique = {(d.name, d.line): d for d in defs}  # some queries match one definition twice
    return FileTags(sorted(unique.values(), key=lambda d: (d.line, d.name)), refs)


class TagIndex:
    """Tags for a repository's source files, cached in a JSON file keyed by (size, mtime)."""

    def __init__(self, root: Path, cache_path: Path | None):
        self.root = root
        self.cache_path = cache_path
        self._cache: dict[str, dict] = self._read_cache()

    def _read_cache(self) -> dict[str, dict]:
        if self.cache_path is None or not self.cache_path.exists():
            return {}
        try:
            raw = json.loads(self.cache_path.read_text())
        except (OSError, ValueError):
            return {}
        return raw.get("files", {}) if raw.get("version") == CACHE_VERSION else {}

    def load(self, files: list[str], *, progress: bool | None = None) -> dict[str, FileTags]:
        """Tags for each file of `files` that has a grammar; parses only what changed."""
        sources = [f for f in files if language_name(f)]
        stats = {f: self._stat(f) for f in sources}
        stale = [f for f in sources if stats[f] and self._cached_stat(f) != stats[f]]
        for rel in self._with_progress(stale, progress):
            self._cache[rel] = self._parse(rel, stats[rel])
        known = set(sources)
        dropped = [rel for rel in self._cache if rel not in known]
        for rel in dropped:
            del self._cache[rel]
        if stale or dropped:
            self._write_cache()
        return {rel: _decode(self._cache[rel]) for rel in sources if rel in self._cache}

    def _stat(self, rel: str) -> list[int] | None:
        try:
            st = (self.root / rel).stat()
        except OSError:
            return None
        return [st.st_size, st.st_mtime_ns]

    def _cached_stat(self, rel: str) -> list[int] | None:
        entry = self._cache.get(rel)
        return entry["stat"] if entry else None

    def _parse(self, rel: str, stat: list[int]) -> dict:
        try:
            tags = extract(rel, (self.root / rel).read_bytes())
        except (OSError, ValueError):
            tags = FileTags()
        return {
            "stat": stat,
            "defs": [[d.name, d.kind, d.line, d.end_line] for d in tags.defs],
            "refs": dict(tags.refs),
        }

    def _with_progress(self, stale: list[str], progress: bool | None) -> list[str]:
        show = progress if progress is not None else sys.stderr.isatty()
        if not show or len(stale) < PROGRESS_MIN_FILES:
            return stale
        return _progress_iter(stale)

    def _write_cache(self) -> None:
        if self.cache_path is None:
            return
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            raw = {"version": CACHE_VERSION, "files": self._cache}
            atomic_write_bytes(self.cache_path, json.dumps(raw, separators=(",", ":")).encode())
        except OSError:
            pass  # the cache is an optimisation; a read-only place just means re-parsing next time


def _decode(entry: dict) -> FileTags:
    return FileTags([Definition(*d) for d in entry["defs"]], Counter(entry["refs"]))


def _progress_iter(items: list[str]):  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"repo map: parsing {len(items)} files", total=len(items))
        for item in items:
            yield item
            bar.advance(task)
