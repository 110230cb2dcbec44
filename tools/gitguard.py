"""Which shell commands would change the user's git state: refused before they run.

`git_refusal(command, root)` reads a shell command line the way bash would split it (words,
quotes, `;` `&&` `||` `|` `&` `(` `)`, newlines, `$( )` and backticks, `bash -c "..."`) and
returns the reason to refuse it, or "" to let it run. A `git` word followed by a subcommand
that writes HEAD, the index, refs, the stash, the config or the object store (commit, add,
rm, mv, reset, checkout/switch to a branch, stash push/pop/drop, branch and tag changes,
merge, rebase, am, cherry-pick, revert, pull, fetch, push, update-ref, update-index, gc,
clean -x, ...) is refused; read-only forms (status, diff, log, show, grep, `stash list`,
`branch --list`, `checkout -- FILE`, ...) run. A git aimed at another repository (`-C DIR`,
`--git-dir`, `cd DIR` to a folder outside the work tree) is allowed.

This is a first line of defence for the model's commands: a script that runs git itself is
not seen here; the git state such commands change is put back at the end of the run from
the journal (tools.workspace). This module knows nothing about tools or journals.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

READ_ONLY = {
    "status", "diff", "log", "show", "blame", "annotate", "grep", "ls-files", "ls-tree", "ls-remote",
    "rev-parse", "rev-list", "cat-file", "describe", "shortlog", "merge-base", "name-rev",
    "for-each-ref", "show-ref", "show-branch", "whatchanged", "help", "version", "var",
    "check-ignore", "check-attr", "check-ref-format", "diff-files", "diff-index", "diff-tree",
    "count-objects", "range-diff", "cherry", "format-patch", "archive", "verify-commit", "verify-tag",
    "fsck", "init", "clone", "get-tar-commit-id", "column", "difftool", "bugreport",
    "--version", "--help", "-h", "--exec-path", "--html-path", "--man-path", "--info-path",
}  # fmt: skip
_WHAT = {
    "commit": "would create a commit and move the branch",
    "add": "would change the index (what is staged)",
    "rm": "would change the index; to delete a file, use plain `rm FILE`",
    "mv": "would change the index; to rename a file, use plain `mv`",
    "reset": "would move HEAD or change the index",
    "checkout": "would switch branches or change the index; `git checkout -- FILE` is allowed",
    "switch": "would switch branches",
    "stash": "would change the stash (and the work tree); `git stash list` and `show` are allowed",
    "branch": "would create, delete or move a branch; listing (`git branch`, `--list`) is allowed",
    "tag": "would create or delete a tag; listing is allowed",
    "restore": "would change the index (--staged); restoring work-tree files is allowed",
    "clean": "would delete ignored files (-x/-X), which cannot be undone",
    "config": "would change the repository's git config; reading (--get, --list) is allowed",
    "remote": "would change the remotes; `git remote -v` is allowed",
    "apply": "would change the index (--index/--cached/--3way); plain `git apply` is allowed",
    "notes": "would change the notes refs",
    "worktree": "would add or remove work trees",
    "submodule": "would change submodules",
    "reflog": "would rewrite the reflog",
    "symbolic-ref": "would move a symbolic ref (HEAD)",
    "hash-object": "would write to the object database (-w)",
}
_HISTORY = "would change the repository's history, HEAD or refs"
_LISTING = {
    "branch": {"-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose", "--list", "-l", "--show-current",
               "--contains", "--no-contains", "--merged", "--no-merged", "--sort", "--points-at",
               "--format", "--color", "--no-color", "--column", "--no-column", "-i", "--ignore-case"},
    "tag": {"-l", "--list", "-n", "--contains", "--no-contains", "--merged", "--no-merged", "--sort",
            "--points-at", "--format", "--column", "--no-column", "-i", "--ignore-case", "-v", "--verify"},
}  # fmt: skip
_GLOBAL_WITH_VALUE = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--super-prefix"}
_SHELLS = {"bash", "sh", "zsh", "dash", "ksh"}
_WRAPPERS = {"env", "sudo", "xargs", "time", "nohup", "command", "exec", "nice", "timeout", "stdbuf", "then",
             "do", "else", "if", "while", "until", "!", "{", "eval"}  # fmt: skip
_SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "|&", ";;", "\n"}


def git_refusal(command: str, root: Path) -> str:
    """Why `command` must not run in the repository at `root` ("" when it may)."""
    return _check(command, root, root, depth=0)


def _check(command: str, root: Path, cwd: Path, depth: int) -> str:
    words = _words(command)
    if words is None:
        return ""  # bash would refuse it too (unbalanced quotes)
    expect = True  # the next word is in command position
    for i, word in enumerate(words):
        if word in _SEPARATORS:
            expect = True
            continue
        if not expect:
            if words[i - 1] == "-c" and _is_shell(words, i - 2) and depth < 3:
                why = _check(word, root, cwd, depth + 1)
                if why:
                    return why
            continue
        if "=" in word.partition("/")[0] or word in _WRAPPERS or word.startswith("-") or word.isdigit():
            continue  # an assignment, a wrapper (env, xargs, timeout 5, ...) or its option
        expect = False
        if word == "cd":
            cwd = _cd(cwd, words[i + 1] if i + 1 < len(words) else "")
        elif os.path.basename(word) == "git":
            why = _git_call(words[i + 1 :], root, cwd, _env_git_dir(words, i))
            if why:
                return why
    return ""


def _is_shell(words: list[str], i: int) -> bool:
    return i >= 0 and os.path.basename(words[i]) in _SHELLS


def _words(command: str) -> list[str] | None:
    text = command.replace("`", " ; ").replace("$(", " ( ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.whitespace = " \t\r"  # newlines separate commands: keep them as words
    lexer.commenters = ""
    try:
        words = [w.replace("\n", "") or "\n" for w in _split_newlines(list(lexer))]
    except ValueError:
        return None
    return words


def _split_newlines(words: list[str]) -> list[str]:
    out = []
    for word in words:
        parts = word.split("\n")
        for j, part in enumerate(parts):
            if j:
                out.append("\n")
            if part:
                out.append(part)
    return out


def _cd(cwd: Path, target: str) -> Path:
    if not target or target in _SEPARATORS or target.startswith(("-", "$", "~")):
        return cwd  # unknown: stay conservative (inside)
    return Path(os.path.normpath(cwd / target))


def _env_git_dir(words: list[str], i: int) -> str | None:
    j = i - 1
    while j >= 0 and "=" in words[j] and words[j] not in _SEPARATORS:
        name, _, value = words[j].partition("=")
        if name in ("GIT_DIR", "GIT_WORK_TREE"):
            return value
        j -= 1
    return None


def _git_call(args: list[str], root: Path, cwd: Path, git_dir: str | None) -> str:
    args = _substitutions_as_words(args)
    args = _until_separator(args)
    where = cwd
    k = 0
    while k < len(args) and args[k].startswith("-") and args[k] not in READ_ONLY:
        flag, _, value = args[k].partition("=")
        if flag in _GLOBAL_WITH_VALUE and not value and k + 1 < len(args):
            value, k = args[k + 1], k + 1
        if value == _UNKNOWN:
            pass  # a $(...) value: where it points is unknown, so this repository is assumed
        elif flag == "-C":
            where = Path(os.path.normpath(where / value))
        elif flag in ("--git-dir", "--work-tree"):
            git_dir = value
        k += 1
    if not _inside(where, root) or (
        git_dir is not None and not _inside(Path(os.path.normpath(where / git_dir)), root)
    ):
        return ""  # another repository
    if k >= len(args):
        return ""
    sub, rest = args[k], args[k + 1 :]
    if _allowed(sub, rest):
        return ""
    shown = " ".join(["git", sub, *rest[:3]])
    return (
        f"refused: `{shown}` {_WHAT.get(sub, _HISTORY)}. plt-agent leaves the user's commits, branches, "
        "index and stash alone: change the files only (the user reviews and commits them)"
    )


_UNKNOWN = "$(...)"


def _substitutions_as_words(args: list[str]) -> list[str]:
    """`( ... )` right after a word (a `$(...)` argument) becomes one unknown word."""
    out: list[str] = []
    k = 0
    while k < len(args):
        if args[k] == "(" and out and out[-1] not in _SEPARATORS:
            depth, k = 1, k + 1
            while k < len(args) and depth:
                depth += {"(": 1, ")": -1}.get(args[k], 0)
                k += 1
            out.append(_UNKNOWN)
            continue
        out.append(args[k])
        k += 1
    return out


def _until_separator(args: list[str]) -> list[str]:
    for k, word in enumerate(args):
        if word in _SEPARATORS:
            return args[:k]
    return args


def _inside(path: Path, root: Path) -> bool:
    try:
        real = Path(os.path.realpath(path))
    except OSError:
        return True
    root = Path(os.path.realpath(root))
    return real == root or root in real.parents


_STASH_READ = {"list", "show"}


def _allowed(sub: str, rest: list[str]) -> bool:
    flags = [a for a in rest if a.startswith("-")]
    plain = [a for a in rest if not a.startswith("-")]
    if sub == "restore":
        return not any(f in ("--staged", "-S") or re.fullmatch(r"-[a-zA-Z]*S[a-zA-Z]*", f) for f in flags)
    if sub in READ_ONLY:
        return True
    if sub == "stash":
        return bool(plain) and plain[0] in _STASH_READ
    if sub in _LISTING:
        listing = _LISTING[sub]
        if not all(f.partition("=")[0] in listing for f in flags):
            return False
        return not plain or bool({"--list", "-l"} & set(flags)) or sub == "branch" and "--contains" in flags
    if sub == "checkout":
        return "--" in rest and rest.index("--") == 0
    if sub == "clean":
        return not any(re.fullmatch(r"-[a-zA-Z]*[xX][a-zA-Z]*", f) for f in flags)
    if sub == "config":
        return any(f.startswith(("--get", "--list", "-l", "--show")) for f in flags) or (
            len(plain) == 1 and not flags
        )
    if sub == "remote":
        return not plain or plain[0] in ("show", "get-url")
    if sub == "apply":
        return not any(f in ("--index", "--cached", "-3", "--3way", "--intent-to-add") for f in flags)
    if sub in ("notes", "worktree", "submodule"):
        return bool(plain) and plain[0] in ("list", "show", "status", "summary")
    if sub == "reflog":
        return not plain or plain[0] in ("show", "exists")
    if sub == "symbolic-ref":
        return len(plain) == 1 and "-d" not in flags and "--delete" not in flags
    if sub == "hash-object":
        return "-w" not in flags
    return False
