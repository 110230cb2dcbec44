"""The repo map: source files ranked by relevance to a query, rendered as their key signatures.

How it ranks (after Aider's repo map, agent-prior-art §4a, re-implemented):
1. Tags (tools.tags): each file's definitions and the identifiers it references.
2. A file graph: for every identifier defined in one file and used in another, an edge
   user -> definer weighted `sqrt(uses) x multiplier` (x10 when the query names it, x10 for
   long structured names, x0.1 for `_private` names, x0.1 when defined in more than 5 files).
   Data files (JSON, INI, YAML, CSV, ...) join the graph when code names them
   (`with_name("currencies.json")`): an edge code -> data file, weighted x10.
3. Personalised PageRank (power iteration, numpy) toward what the query points at: files it
   names by path or dotted module (strongest), files defining identifiers it names, and files
   whose definitions share rare name parts with its words (a test named
   `test_discount_rounding` points at `apply_discount`).
4. Hub discount: a file's score is its personalised rank divided by its rank under uniform
   personalisation (floored at 1/N), so files everything depends on (console.py,
   utils.py) do not win every query, while rarely used files get no bonus for obscurity.
   Test files (by the usual naming conventions) count half: the failing test is where a
   failure is observed, rarely where the fix goes.
5. Rendering: files in rank order, each with the signature lines of its best definitions
   (and their enclosing classes), as many files as fit the token budget (binary search;
   tokens ~ chars/4 unless a counter is given).

The weights were chosen on a dozen cases (the fixture repos of tests/tools and bugs put into
copies of gitdb/smmap); they are a starting point, not a measured optimum.

`rank_files` and `render_map` work on a directory without the Tool wrapper (the eval suite
uses `rank_files` to find the rank of the file to fix).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.base import Observation, arg, schema
from tools.filekinds import is_data, is_test_file
from tools.repofiles import list_files, state_dir
from tools.tags import FILE_REF, FileTags, TagIndex
from tools.text import clip_line
from tools.workspace import Workspace

DEFAULT_BUDGET = 1024
DAMPING = 0.85
MAX_DEFS_PER_FILE = 12
# Personalisation weights: a file named by path, a file defining a named identifier (per
# identifier, capped at two), a definition name part found only in one file.
W_PATH = 1.0
W_IDENTIFIER = 0.5
W_NAME_PARTS = 0.5
TEST_FILE_WEIGHT = 0.5
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATHLIKE = re.compile(r"[\w.\-/\\]+")
_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# Name parts too common to point anywhere (English glue words and programming boilerplate).
_STOP_TEXT = """test tests self cls get set init main new none true false def class return returns
assert error
errors the and for with without from into that this when then than has have not are was were but all any
can should does did use using value values"""
_STOP_PARTS = frozenset(_STOP_TEXT.split())


@dataclass
class Query:
    """What a query (traceback, issue text) points at in this repository."""

    files: dict[str, float]  # mentioned file -> weight
    identifiers: set[str]
    parts: set[str]  # lower-case name parts of the query's words


class RepoMap:
    """Tags, graph and ranking for one repository directory."""

    def __init__(self, root: str | Path, *, use_git: bool = True, cache_dir: Path | None = None):
        self.root = Path(root).resolve()
        self.files = list_files(self.root, use_git=use_git)
        self.data_files = [f for f in self.files if is_data(f)]
        folder = cache_dir or state_dir(self.root, use_git=use_git)
        self.index = TagIndex(self.root, folder / "repomap-tags.json")
        self._tags: dict[str, FileTags] | None = None
        self._ranked: dict[str, tuple[list[tuple[str, float]], dict[tuple[str, str], float]]] = {}

    def tags(self, *, progress: bool | None = None) -> dict[str, FileTags]:
        if self._tags is None:
            self._tags = self.index.load(self.files, progress=progress)
        return self._tags

    # ---- query ---------------------------------------------------------------------------

    def graph(self, query: Query | None = None) -> dict[str, FileTags]:
        """The graph's files: source files with their tags, and data files the code or query names."""
        tags = self.tags()
        named = {ref[len(FILE_REF) :] for ft in tags.values() for ref in ft.refs if ref.startswith(FILE_REF)}
        mentioned = set(query.files) if query else set()
        data = {
            rel: FileTags() for rel in self.data_files if rel.rsplit("/", 1)[-1] in named or rel in mentioned
        }
        return {**tags, **data}

    def parse_query(self, text: str) -> Query:
        suffixes: dict[str, list[str]] = defaultdict(list)
        for rel in [*self.tags(), *self.data_files]:
            parts = rel.split("/")
            for k in range(1, len(parts) + 1):
                suffixes["/".join(parts[-k:])].append(rel)
        files: dict[str, float] = Counter()
        for token in _PATHLIKE.findall(text):
            for rel, weight in _mentioned(token, suffixes):
                files[rel] = max(files[rel], weight)
        identifiers = {w for w in _WORD.findall(text) if len(w) >= 3}
        parts = {p for w in identifiers for p in name_parts(w)}
        return Query(dict(files), identifiers, parts)

    # ---- ranking -------------------------------------------------------------------------

    def rank(self, query: str = "") -> tuple[list[tuple[str, float]], dict[tuple[str, str], float]]:
        """(files with scores, best first; {(file, identifier): score} for rendering)."""
        if query not in self._ranked:
            self._ranked[query] = self._rank(query)
        return self._ranked[query]

    def _rank(self, query: str) -> tuple[list[tuple[str, float]], dict[tuple[str, str], float]]:
        q = self.parse_query(query)
        tags = self.graph(q)
        nodes = sorted(tags)
        if not nodes:
            return [], {}
        edges = self._edges(tags, q)
        personal = self._personalisation(nodes, tags, q)
        scores = pagerank(len(nodes), edges, personal)
        baseline = pagerank(len(nodes), edges, [1.0] * len(nodes))
        files = sorted(
            zip(nodes, _relevance(nodes, scores, baseline), strict=True), key=lambda fs: (-fs[1], fs[0])
        )
        return files, self._definition_scores(nodes, tags, edges, scores, q)

    def _definers(self, tags: dict[str, FileTags]) -> dict[str, set[str]]:
        definers: dict[str, set[str]] = defaultdict(set)
        for rel, ft in tags.items():
            for d in ft.defs:
                definers[d.name].add(rel)
        for rel in tags.keys() & set(self.data_files):
            definers[FILE_REF + rel.rsplit("/", 1)[-1]].add(rel)
        return definers

    def _edges(self, tags: dict[str, FileTags], q: Query) -> list[tuple[int, int, float, str]]:
        """(user index, definer index, weight, identifier) for every cross-file use."""
        index = {rel: i for i, rel in enumerate(sorted(tags))}
        definers = self._definers(tags)
        edges = []
        for rel, ft in tags.items():
            for ident, uses in ft.refs.items():
                where = definers.get(ident)
                if not where:
                    continue
                weight = identifier_weight(ident, len(where), ident in q.identifiers) * math.sqrt(uses)
                edges.extend((index[rel], index[d], weight, ident) for d in where if d != rel)
        return edges

    def _personalisation(self, nodes: list[str], tags: dict[str, FileTags], q: Query) -> list[float]:
        """Where the random walk restarts: files the query names, defines, or echoes by name parts."""
        weights = Counter({rel: W_PATH * w for rel, w in q.files.items()})
        definers = self._definers(tags)
        named: Counter[str] = Counter()
        for ident in q.identifiers:
            where = definers.get(ident, set())
            for rel in where if 0 < len(where) <= 5 else ():
                named[rel] += 1.0 / len(where)
        for rel, n in named.items():
            weights[rel] += W_IDENTIFIER * min(n, 2.0)
        for rel, score in _lexical_scores(tags, q).items():
            weights[rel] += W_NAME_PARTS * score
        return [weights.get(rel, 0.0) for rel in nodes]

    def _definition_scores(
        self,
        nodes: list[str],
        tags: dict[str, FileTags],
        edges: list[tuple[int, int, float, str]],
        scores: list[float],
        q: Query,
    ) -> dict[tuple[str, str], float]:
        """Each file's rank shared over its uses, credited to the (definer, identifier) used."""
        out_weight: Counter[int] = Counter()
        for src, _, w, _ in edges:
            out_weight[src] += w
        ranked: dict[tuple[str, str], float] = Counter()
        for src, dst, w, ident in edges:
            ranked[(nodes[dst], ident)] += scores[src] * w / out_weight[src]
        for i, rel in enumerate(nodes):
            for d in tags[rel].defs:
                boost = 10.0 if d.name in q.identifiers else 1.0
                ranked[(rel, d.name)] += scores[i] * 1e-3 * boost
        return ranked

    # ---- rendering -----------------------------------------------------------------------

    def render(
        self,
        query: str = "",
        budget_tokens: int = DEFAULT_BUDGET,
        count_tokens: Callable[[str], int] | None = None,
    ) -> str:
        count = count_tokens or (lambda s: len(s) // 4)
        ranked, def_scores = self.rank(query)
        tags = self.tags()
        files = [
            fs for fs in ranked if fs[0] not in tags or tags[fs[0]].defs
        ]  # empty source files say nothing
        blocks: list[str] = []
        lines_cache: dict[str, list[str]] = {}

        def text(n: int) -> str:
            while len(blocks) < n:
                rel = files[len(blocks)][0]
                blocks.append(self._file_block(rel, def_scores, lines_cache))
            more = len(files) - n
            tail = f"\n[{more} more source files not shown]" if more > 0 else ""
            return _HEADER + "".join(blocks[:n]) + tail

        lo, hi = 0, len(files)
        while lo < hi:  # the largest number of files whose rendering fits the budget
            mid = (lo + hi + 1) // 2
            if count(text(mid)) <= budget_tokens:
                lo = mid
            else:
                hi = mid - 1
        return text(lo)

    def _file_block(self, rel: str, def_scores: dict, lines_cache: dict[str, list[str]]) -> str:
        if rel not in self.tags():
            return f"{rel} (data file)\n"
        defs = self.tags()[rel].defs
        best = sorted(defs, key=lambda d: -def_scores.get((rel, d.name), 0.0))[:MAX_DEFS_PER_FILE]
        shown = set(best)
        for d in best:
            shown.update(p for p in defs if p.line < d.line <= p.end_line)  # enclosing scopes
        if rel not in lines_cache:
            try:
                lines_cache[rel] = (self.root / rel).read_text(errors="replace").splitlines()
            except OSError:
                lines_cache[rel] = []
        lines = lines_cache[rel]
        rows = [
            f"{d.line + 1:>5}: {clip_line(lines[d.line].rstrip(), 100)}"
            for d in sorted(shown, key=lambda d: d.line)
            if d.line < len(lines)
        ]
        more = len(defs) - len(best)
        rows += [f"      ... {more} more definitions"] if more > 0 else []
        return f"{rel}\n" + "".join(row + "\n" for row in rows)


_HEADER = "Repository map: source files, most relevant first, with line numbers of key definitions.\n"


def _relevance(nodes: list[str], scores: list[float], baseline: list[float]) -> list[float]:
    """Personalised rank over uniform rank (floored at 1/N), test files halved, normalised to sum 1."""
    floor = 1.0 / len(nodes)
    relevance = [
        s / max(b, floor) * (TEST_FILE_WEIGHT if is_test_file(rel) else 1.0)
        for rel, s, b in zip(nodes, scores, baseline, strict=True)
    ]
    total = sum(relevance) or 1.0
    return [r / total for r in relevance]


def _mentioned(token: str, suffixes: dict[str, list[str]]) -> list[tuple[str, float]]:
    """Files a path-like token names: by path suffix, or as a dotted module (pkg.mod)."""
    token = token.replace("\\", "/").strip("./:,'\"")
    parts = [p for p in token.split("/") if p]
    for k in range(len(parts), 0, -1):
        found = suffixes.get("/".join(parts[-k:]))
        if found:
            weight = 1.0 if k >= 2 or len(found) == 1 else 1.0 / len(found)
            return [(rel, weight) for rel in found]
    if "/" not in token and token.count(".") >= 1:
        dotted = token.split(".")
        for k in range(len(dotted), 1, -1):
            base = "/".join(dotted[:k])
            for candidate in (f"{base}.py", f"{base}/__init__.py"):
                if candidate in suffixes:
                    return [(rel, 1.0) for rel in suffixes[candidate]]
    return []


def name_parts(identifier: str) -> set[str]:
    """Lower-case parts of a snake_case or camelCase name, three letters or more."""
    parts = set()
    for chunk in identifier.split("_"):
        parts.update(p.lower() for p in _CAMEL.findall(chunk))
    return {p for p in parts if len(p) >= 3 and p not in _STOP_PARTS}


def _lexical_scores(tags: dict[str, FileTags], q: Query) -> dict[str, float]:
    """Per file: the summed rarity (idf) of query name parts found in its definition names.

    Definitions the query names exactly are left out: they already count as mentioned.
    """
    query_parts = q.parts
    file_parts = {
        rel: {p for d in ft.defs if d.name not in q.identifiers for p in name_parts(d.name)}
        for rel, ft in tags.items()
    }
    df = Counter(p for parts in file_parts.values() for p in parts & query_parts)
    n = len(tags)
    unique = math.log(1 + n)  # the idf of a part found in one file only
    return {
        rel: sum(math.log(1 + n / df[p]) for p in parts & query_parts) / unique
        for rel, parts in file_parts.items()
        if parts & query_parts
    }


def identifier_weight(ident: str, n_definers: int, mentioned: bool) -> float:
    if ident.startswith(FILE_REF):
        return 10.0 if n_definers <= 5 else 1.0  # code naming a data file is a specific link
    weight = 10.0 if mentioned else 1.0
    structured = "_" in ident.strip("_") or bool(re.search(r"[a-z][A-Z]", ident))
    if structured and len(ident) >= 8:
        weight *= 10.0
    if ident.startswith("_"):
        weight *= 0.1
    if n_definers > 5:
        weight *= 0.1
    return weight


def pagerank(
    n: int, edges: list[tuple[int, int, float, Any]], personal: list[float], *, iterations: int = 100
) -> list[float]:
    """Weighted personalised PageRank by power iteration; dangling mass returns to `personal`."""
    import numpy as np

    p = np.asarray(personal, dtype=float)
    p = p / p.sum() if p.sum() > 0 else np.full(n, 1.0 / n)
    if not edges:
        return p.tolist()
    src = np.array([e[0] for e in edges])
    dst = np.array([e[1] for e in edges])
    w = np.array([e[2] for e in edges], dtype=float)
    out = np.bincount(src, weights=w, minlength=n)
    share = w / out[src]
    dangling = out == 0
    rank = p.copy()
    for _ in range(iterations):
        flow = np.bincount(dst, weights=rank[src] * share, minlength=n)
        new = DAMPING * (flow + rank[dangling].sum() * p) + (1 - DAMPING) * p
        if np.abs(new - rank).sum() < 1e-10:
            return new.tolist()
        rank = new
    return rank.tolist()


def rank_files(root: str | Path, query: str = "", *, use_git: bool = True) -> list[tuple[str, float]]:
    """Source files of the repository at `root` with their relevance to `query`, best first."""
    return RepoMap(root, use_git=use_git).rank(query)[0]


def render_map(
    root: str | Path,
    query: str = "",
    budget_tokens: int = DEFAULT_BUDGET,
    *,
    count_tokens: Callable[[str], int] | None = None,
    use_git: bool = True,
) -> str:
    """The repo map text for `query`, at most `budget_tokens` tokens (chars/4 by default)."""
    return RepoMap(root, use_git=use_git).render(query, budget_tokens, count_tokens)


class RepoMapTool:
    name = "repo_map"
    mutates = False
    description = (
        "Show a map of the repository: source files ranked by relevance to `query` (paste a "
        "failing test's output, an error message or identifiers), each with the line numbers "
        "and signatures of its key definitions. Use it first to decide which files to view."
    )
    parameters = schema(
        query=arg("string", "Text to rank files by: traceback, error, names."),
        budget_tokens=arg("integer", f"Size limit in tokens (default {DEFAULT_BUDGET})."),
    )

    def run(self, args: dict[str, Any], workspace: Workspace) -> Observation:
        budget = max(64, int(args.get("budget_tokens") or DEFAULT_BUDGET))
        repo = RepoMap(workspace.root, use_git=workspace.use_git, cache_dir=workspace.state_dir)
        files, _ = repo.rank(args.get("query") or "")
        if not files:
            return Observation("No source files with a known language were found in this repository.")
        text = repo.render(args.get("query") or "", budget)
        return Observation(text, data={"ranked": [rel for rel, _ in files[:20]]})
