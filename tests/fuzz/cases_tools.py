"""Tool mutants: odd files in the repository and odd arguments, through `run_tool` and `tool run`.

`tool_cases(work)` builds one git repository holding a FIFO, a socket, device nodes (when
this user may make them), symlink loops, a dangling link, a link into .git, a nested
repository and oddly named files, then calls every tool on them with hostile arguments.
`run_tool` is what the agent calls inside `fix`: it must return an observation, never
raise. `forbid` paths must not exist afterwards and `unchanged` files must keep their bytes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

from harness import Case

ESC = "\x1b[2J\x1b[31mRED"
MARKUP = "[/bold]x[bold red]"
HUGE_INT = 10**400
CORE = {
    "view:fifo",
    "edit:fifo",
    "view:NUL in the path",
    "view:symlink loop",
    "find:[z-a]",
    "write:nested repo .git/hooks",
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@e", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def make_odd_repo(root: Path) -> dict[str, bool]:
    """The repository; returns which optional special files could be made."""
    root.mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("def main():\n    return 1\n")
    (root / "data.bin").write_bytes(bytes(range(256)) * 4)
    (root / "long.txt").write_text("a" * 100_000 + "\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "initial")
    os.mkfifo(root / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    sock.close()
    have = {"devices": True}
    try:
        os.mknod(root / "dev_zero", 0o666 | 0o020000, os.makedev(1, 5))
        os.mknod(root / "dev_null", 0o666 | 0o020000, os.makedev(1, 3))
    except (PermissionError, OSError):
        have["devices"] = False
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    os.symlink("self", root / "self")
    os.symlink("missing", root / "dangling")
    os.symlink(".git/hooks", root / "hooks_link")
    os.symlink("fifo", root / "fifo_link")
    sub = root / "sub"
    sub.mkdir()
    _git(sub, "init", "-q", "-b", "main")
    (sub / "lib.py").write_text("x = 1\n")
    (root / "odd\x1b[2J.py").write_text("y = 2\n")
    (root / "[bold]m.py").write_text("z = 3\n")
    return have


def tool_cases(work: Path) -> list[Case]:
    repo = work / "repo"
    have = make_odd_repo(repo)
    cases: list[Case] = []
    git_files = [repo / ".git" / "config", repo / "sub" / ".git" / "config", repo / ".git" / "HEAD"]

    def add(
        tool: str, label: str, args: dict | str, expect: str, *, forbid: tuple[str, ...] = (), **job: object
    ) -> None:
        cid = f"{tool}:{label}"
        payload = {
            "kind": "tool",
            "repo": str(repo),
            "name": tool,
            "args": args,
            "forbid": [str(repo / f) for f in forbid],
            "unchanged": [str(p) for p in git_files],
            **job,
        }
        group = f"tools-{tool}" if tool.isidentifier() else "tools-unknown"
        cases.append(Case(f"tools/{cid}", group, label, expect, payload, core=cid in CORE, timeout=20))

    bad_paths = [
        ("fifo", "fifo"),
        ("link to a fifo", "fifo_link"),
        ("socket", "sock"),
        ("symlink loop", "loop1"),
        ("self loop", "self"),
        ("under a symlink loop", "loop1/x.py"),
        ("dangling link", "dangling"),
        ("NUL in the path", "a\0b.py"),
        ("4000-char name", "n" * 4000),
        ("ESC in a missing path", ESC + ".py"),
        ("markup in a missing path", MARKUP + ".py"),
        ("outside the repo", "../../etc/passwd"),
        ("surrogate in the path", "\udcff.py"),
    ]
    if have["devices"]:
        bad_paths += [("char device zero", "dev_zero"), ("char device null", "dev_null")]
    creatable = {"dangling", ESC + ".py", MARKUP + ".py", "\udcff.py"}  # write may create these
    for label, path in bad_paths:
        add("view", label, {"path": path}, "reject")
        add("edit", label, {"path": path, "old": "a", "new": "b"}, "reject")
        add("insert", label, {"path": path, "line": 0, "text": "x\n"}, "reject")
        add("write", label, {"path": path, "content": "x\n"}, "either" if path in creatable else "reject")
        add("search", label, {"pattern": "a", "path": path}, "either" if path in creatable else "reject")
    add("view", "ESC in an existing file name", {"path": "odd\x1b[2J.py"}, "either")
    add("view", "markup in an existing file name", {"path": "[bold]m.py"}, "either")
    add("view", "a binary file", {"path": "data.bin"}, "either")
    add("view", "a 100 KB line", {"path": "long.txt"}, "either")
    add("view", "the repository", {"path": "."}, "ok")
    add("view", ".git/config (reading is fine)", {"path": ".git/config"}, "either")
    for label, value in [
        ("huge int", HUGE_INT),
        ("1e400", "1e400"),
        ("nan", "nan"),
        ("-inf", "-inf"),
        ("-5", -5),
        ("list", [1]),
    ]:
        add("view", f"start={label}", {"path": "app.py", "start": value}, "either")
        add("insert", f"line={label}", {"path": "app.py", "line": value, "text": "# c\n"}, "either")
    # Nothing may be written under any .git directory.
    for label, path, forbid in [
        ("top .git/hooks", ".git/hooks/pre-commit", ".git/hooks/pre-commit"),
        ("nested repo .git/hooks", "sub/.git/hooks/pre-commit", "sub/.git/hooks/pre-commit"),
        ("through a link to .git/hooks", "hooks_link/post-commit", ".git/hooks/post-commit"),
        ("a .git file in a folder", "pkg/.git", "pkg/.git"),
        ("dot-dot into .git", "sub/../.git/hooks/x", ".git/hooks/x"),
        ("nested repo config", "sub/.git/config", "sub/.git/config.new"),
    ]:
        add("write", label, {"path": path, "content": "#!/bin/sh\necho pwned\n"}, "reject", forbid=(forbid,))
    add(
        "edit",
        ".git/config",
        {"path": ".git/config", "old": "[core]", "new": "[core]\n\thooksPath = /tmp"},
        "reject",
    )
    add(
        "edit", "nested .git/config", {"path": "sub/.git/config", "old": "[core]", "new": "[corex]"}, "reject"
    )
    add("insert", ".git/HEAD", {"path": ".git/HEAD", "line": 0, "text": "x\n"}, "reject")
    for glob in [
        "[z-a]",
        "[",
        "[]",
        "[!]",
        "[^]",
        "**/***",
        "\\",
        "[\\]",
        "a\0b",
        "x" * 10_000,
        "(",
        "[a-",
        "*{a,b}",
        "[[:alpha:]]",
        "?" * 300,
    ]:
        label = glob if len(glob) < 20 else f"{glob[:5]}... ({len(glob)} chars)"
        add("find", label, {"glob": glob}, "either")
    for pattern, regex in [
        ("(", True),
        ("[z-a]", True),
        ("a\0b", False),
        ("x" * 100_000, False),
        ("\\", True),
        ("(?P<", True),
    ]:
        label = pattern if len(pattern) < 20 else f"{len(pattern)} chars"
        add("search", f"{label} regex={regex}", {"pattern": pattern, "regex": regex}, "either")
    add("bash", "NUL in the command", {"command": "echo a\0b"}, "either")
    add("bash", "timeout nan", {"command": "true", "timeout": "nan"}, "either")
    add("bash", "timeout huge", {"command": "true", "timeout": HUGE_INT}, "either")
    add("bash", "cat a fifo is killed by the timeout", {"command": "cat fifo", "timeout": 1}, "either")
    add("run_tests", "NUL in the command", {"command": "pytest\0 -q"}, "either")
    add("run_tests", "NUL in a test id", {"tests": ["a\0b"], "command": "true"}, "either")
    add("repo_map", "NUL in the query", {"query": "a\0b" + ESC}, "either")
    add("repo_map", "huge budget", {"query": "main", "budget_tokens": HUGE_INT}, "either")
    add("diff", "diff with special files around", {}, "either")
    add("undo", "undo with special files around", {}, "either")
    add("view", "arguments not JSON", "{", "reject")
    add("view", "arguments a list", json.dumps([1]), "reject")
    add("nope\x1b[2J", "an unknown tool named with ESC", {}, "reject")
    add("search", "pattern with ESC", {"pattern": ESC}, "either")
    cases.append(
        Case(
            "tools/cli:repo with markup and ESC",
            "tools-cli",
            "--repo names a missing folder with markup and ESC",
            "reject",
            {
                "kind": "cli",
                "argv": ["tool", "run", "view", "--repo", str(work / "[/bold]x\x1b[2J"), "--args", "{}"],
            },
            core=True,
        )
    )
    return cases
