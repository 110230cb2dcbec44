"""The git state a run must leave as it found it: HEAD, every ref, the stash and the index.

`GitRepo.find(root)` locates the repository (None outside git). `repo.capture(store)` reads
HEAD (its symbolic target, or the commit when detached), every ref (`git for-each-ref`,
refs/stash included) and keeps the exact bytes of the index file and of the stash reflog
(logs/refs/stash, which is what `git stash list` shows) in the content store, durably, so a
run killed later can still put them back. One git process per capture.

`repo.restore(store, original, last)` puts back, part by part (HEAD, index, stash, each
ref), what changed from `original` to `last`, but only where the repository still reads
`last`: a part someone else changed since is reported, not overwritten. Refs are moved with
`git update-ref --stdin` against their expected current values; the index and the stash
reflog are written back byte for byte.

This module knows nothing about tools, journals' files or the work tree.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tools.git import query
from tools.runlock import durable_write

STASH = "refs/stash"
_SPECIAL = ("HEAD", "index", "stash")


class Store(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes | None: ...


@dataclass(frozen=True)
class GitState:
    head: str | None  # "ref: refs/heads/main", or a commit id when detached
    refs: dict[str, str] = field(default_factory=dict)  # name -> commit id, or "ref: target"
    index: str | None = None  # content key of the index file's bytes (None: no index file)
    stash_log: str | None = None  # content key of logs/refs/stash

    def parts(self) -> dict[str, Any]:
        out: dict[str, Any] = {"HEAD": self.head, "index": self.index}
        out["stash"] = (self.refs.get(STASH), self.stash_log)
        out.update({name: value for name, value in self.refs.items() if name != STASH})
        return out

    def to_json(self) -> dict[str, Any]:
        return {"head": self.head, "refs": self.refs, "index": self.index, "stash_log": self.stash_log}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> GitState:
        return cls(raw.get("head"), dict(raw.get("refs") or {}), raw.get("index"), raw.get("stash_log"))


def changed_parts(a: GitState, b: GitState) -> list[str]:
    pa, pb = a.parts(), b.parts()
    return sorted(p for p in set(pa) | set(pb) if pa.get(p) != pb.get(p))


def describe_parts(parts: list[str]) -> str:
    return ", ".join(parts)


@dataclass
class GitRepo:
    root: Path
    git_dir: Path
    index_path: Path
    stash_log_path: Path

    @classmethod
    def find(cls, root: Path) -> GitRepo | None:
        out = _git(
            root, "rev-parse", "--absolute-git-dir", "--git-path", "index", "--git-path", "logs/refs/stash"
        )
        if out is None:
            return None
        lines = out.splitlines()
        if len(lines) != 3:
            return None
        git_dir = Path(lines[0])
        index, log = (Path(p) if os.path.isabs(p) else root / p for p in lines[1:])
        return cls(root, git_dir, index, log)

    # ---- reading -------------------------------------------------------------------------

    def capture(self, store: Store) -> GitState:
        return GitState(
            self._head(), self._refs(), _keep(store, self.index_path), _keep(store, self.stash_log_path)
        )

    def _head(self) -> str | None:
        try:
            text = (self.git_dir / "HEAD").read_text().strip()
        except OSError:
            text = ""
        if text.startswith("ref: ") and not text.endswith("/.invalid"):
            return text
        if text and not text.startswith("ref: "):
            return text
        target = _git(self.root, "symbolic-ref", "-q", "HEAD")  # reftable keeps HEAD elsewhere
        if target:
            return "ref: " + target.strip()
        commit = _git(self.root, "rev-parse", "-q", "--verify", "HEAD")
        return commit.strip() if commit else None

    def _refs(self) -> dict[str, str]:
        out = _git(self.root, "for-each-ref", "--format=%(refname) %(objectname) %(symref)") or ""
        refs = {}
        for line in out.splitlines():
            name, _, rest = line.partition(" ")
            commit, _, symref = rest.partition(" ")
            refs[name] = f"ref: {symref}" if symref else commit
        return refs

    # ---- putting back --------------------------------------------------------------------

    def restore(self, store: Store, original: GitState, last: GitState) -> tuple[list[str], dict[str, str]]:
        """Put back the parts that went from `original` to `last`; (restored, skipped with why)."""
        current = self.capture(store)
        now, before, after = current.parts(), original.parts(), last.parts()
        skipped: dict[str, str] = {}
        todo = []
        for part in changed_parts(original, last):
            if now.get(part) == before.get(part):
                continue  # already as it was
            if now.get(part) == after.get(part):
                todo.append(part)
            elif part != "index" or not self.same_index(store, original.index, last.index):
                skipped[part] = "changed by someone else after the agent's command"
            # else: the agent's commands only refreshed the index's stat data; someone changed it since
        restored: list[str] = []
        if "HEAD" in todo:  # first: a branch HEAD was moved onto may be deleted below
            _note(restored, skipped, "HEAD", self._set_head(original.head))
        refs = [p for p in todo if p not in _SPECIAL] + ([STASH] if "stash" in todo else [])
        error = self._move_refs({r: original.refs.get(r) for r in refs}, current.refs)
        for part in (p for p in todo if p not in _SPECIAL):
            _note(restored, skipped, part, error)
        if "stash" in todo:
            why = error or _write_back(store, original.stash_log, self.stash_log_path, None)
            _note(restored, skipped, "stash", why)
        if "index" in todo:
            lock = self.index_path.with_name(self.index_path.name + ".lock")
            why = _write_back(store, original.index, self.index_path, lock)
            if why or not self.same_index(store, original.index, last.index):
                _note(restored, skipped, "index", why)  # a mere stat refresh is put back silently
        return restored, skipped

    def same_index(self, store: Store, a: str | None, b: str | None) -> bool:
        """Whether two index files stage the same entries (they may differ in cached stat data)."""
        if a == b:
            return True
        listings = [self._listing(store, key) for key in (a, b)]
        return listings[0] is not None and listings[0] == listings[1]

    def _listing(self, store: Store, key: str | None) -> str | None:
        data = store.get(key) if key else None
        if data is None:
            return None
        with tempfile.TemporaryDirectory(prefix="plt-agent-index-") as tmp:
            index = Path(tmp) / "index"
            index.write_bytes(data)
            return _git(self.root, "ls-files", "-s", "-v", "-z", env={"GIT_INDEX_FILE": str(index)})

    def _set_head(self, head: str | None) -> str:
        if head is None:
            return "HEAD had no value to go back to"
        if head.startswith("ref: "):
            args = ["symbolic-ref", "HEAD", head[5:]]
        else:
            args = ["update-ref", "--no-deref", "HEAD", head]
        return "" if _git(self.root, *args) is not None else f"`git {' '.join(args)}` failed"

    def _move_refs(self, wanted: dict[str, str | None], current: dict[str, str]) -> str:
        lines = []
        for name, value in wanted.items():
            now = current.get(name)
            if value is not None and value.startswith("ref: "):
                if _git(self.root, "symbolic-ref", name, value[5:]) is None:
                    return f"`git symbolic-ref {name}` failed"
                continue
            if now is not None and now.startswith("ref: "):
                now = None
            if value is None:
                lines.append(f"delete {name} {now}" if now else "")
            elif now is None:
                lines.append(f"create {name} {value}")
            else:
                lines.append(f"update {name} {value} {now}")
        text = "".join(line + "\n" for line in lines if line)
        if text and _git(self.root, "update-ref", "--stdin", input_text=text) is None:
            return "`git update-ref` refused to move the refs back (they changed meanwhile)"
        return ""


def _note(restored: list[str], skipped: dict[str, str], part: str, why: str) -> None:
    if why:
        skipped[part] = why
    else:
        restored.append(part)


def _keep(store: Store, path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return store.put(data)


def _write_back(store: Store, key: str | None, path: Path, busy: Path | None) -> str:
    if busy is not None and busy.exists():
        return f"git is busy ({busy.name} exists); not overwritten"
    if key is None:
        path.unlink(missing_ok=True)
        return ""
    data = store.get(key)
    if data is None:
        return "its recorded copy is missing from plt-agent's store"
    path.parent.mkdir(parents=True, exist_ok=True)
    durable_write(path, data)
    return ""


def _git(
    root: Path, *args: str, input_text: str | None = None, env: dict[str, str] | None = None
) -> str | None:
    data = input_text.encode() if input_text is not None else None
    return query(root, *args, input=data, env=env, timeout=60)
