"""Tasks: what one evaluation instance is, and how to load them.

Two sources give the same `Task`:
- a bench task directory (`task.json`, `repo/`, `gold.patch`, `test.patch`; see
  bench/tasks/README.md), whose base state is the `repo/` tree;
- a SWE-bench instance (a JSON/JSONL file of swebench records) plus a local clone of its
  repository, whose base state is `base_commit` in that clone.

`structural_problems(task)` checks a task without running anything. Checking out a task
lives in `checkout`; running its tests in `validate` and `runner`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from plt_agent.eval.errors import EvalError, EvalUsageError
from plt_agent.eval.patches import parse_patch, touched_files
from tools.filekinds import is_test_file

TASK_FILE = "task.json"
REQUIRED_FIELDS = ("instance_id", "problem_statement", "FAIL_TO_PASS", "PASS_TO_PASS")


@dataclass(frozen=True)
class Task:
    instance_id: str
    repo: str
    problem_statement: str
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]
    gold_patch: str
    test_patch: str
    tags: tuple[str, ...] = ()
    file_to_fix: str | None = None
    repo_dir: Path | None = None  # bench task: the base tree
    checkout: Path | None = None  # swebench instance: a local clone ...
    base_commit: str | None = None  # ... and the commit to start from
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def test_ids(self) -> list[str]:
        return list(self.fail_to_pass) + list(self.pass_to_pass)


def _id_list(value: object, name: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):  # swebench stores these JSON-encoded
        try:
            value = json.loads(value)
        except ValueError:
            raise EvalError(f"{where}: {name} is not a JSON list") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EvalError(f"{where}: {name} must be a list of pytest node ids")
    return tuple(value)


def load_task_dir(path: Path) -> Task:
    """One bench task directory."""
    path = Path(path)
    meta_path = path / TASK_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalError(f"{meta_path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise EvalError(f"{meta_path}: not valid JSON ({exc})") from None
    missing = [k for k in REQUIRED_FIELDS if k not in meta]
    if missing:
        raise EvalError(f"{meta_path}: missing field(s) {', '.join(missing)}")
    return Task(
        instance_id=str(meta["instance_id"]),
        repo=str(meta.get("repo", "")),
        problem_statement=str(meta["problem_statement"]),
        fail_to_pass=_id_list(meta["FAIL_TO_PASS"], "FAIL_TO_PASS", str(meta_path)),
        pass_to_pass=_id_list(meta["PASS_TO_PASS"], "PASS_TO_PASS", str(meta_path)),
        gold_patch=_read_optional(path / "gold.patch"),
        test_patch=_read_optional(path / "test.patch"),
        tags=tuple(meta.get("tags", ())),
        file_to_fix=meta.get("file_to_fix"),
        repo_dir=path / "repo",
        extra={"dir": str(path)},
    )


def _read_optional(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def load_tasks(source: Path, *, repo_dir: Path | None = None, only: list[str] | None = None) -> list[Task]:
    """Tasks from a bench directory, one task directory, or a swebench JSON/JSONL file."""
    source = Path(source)
    if source.is_file():
        if repo_dir is None:
            raise EvalUsageError(
                f"{source} is a file of swebench instances: pass --repo-dir with a local clone"
            )
        tasks = load_swebench(source, repo_dir)
    elif (source / TASK_FILE).is_file():
        tasks = [load_task_dir(source)]
    elif source.is_dir():
        tasks = [load_task_dir(d) for d in sorted(source.iterdir()) if (d / TASK_FILE).is_file()]
        if not tasks:
            raise EvalUsageError(f"{source}: no task directories (each needs a {TASK_FILE})")
    else:
        raise EvalUsageError(f"{source}: no such task directory or instance file")
    return _select(tasks, only)


def _select(tasks: list[Task], only: list[str] | None) -> list[Task]:
    if not only:
        return tasks
    known = {t.instance_id for t in tasks}
    unknown = [i for i in only if i not in known]
    if unknown:
        raise EvalUsageError(f"unknown task id(s): {', '.join(unknown)}")
    return [t for t in tasks if t.instance_id in only]


def load_swebench(path: Path, repo_dir: Path) -> list[Task]:
    """swebench records (a JSON list or JSONL) whose repositories are cloned under `repo_dir`."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        records = (
            json.loads(text)
            if text.lstrip().startswith("[")
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    except ValueError as exc:
        raise EvalError(f"{path}: not JSON or JSONL ({exc})") from None
    return [_swebench_task(r, Path(repo_dir), f"{path}[{n}]") for n, r in enumerate(records)]


def _swebench_task(record: dict, repo_dir: Path, where: str) -> Task:
    for key in ("instance_id", "repo", "base_commit", "patch", "test_patch", *REQUIRED_FIELDS[1:]):
        if key not in record:
            raise EvalError(f"{where}: swebench instance without {key!r}")
    gold = record["patch"]
    fixed = [f for f in touched_files(gold) if not is_test_file(f)] if gold.strip() else []
    return Task(
        instance_id=record["instance_id"],
        repo=record["repo"],
        problem_statement=record["problem_statement"],
        fail_to_pass=_id_list(record["FAIL_TO_PASS"], "FAIL_TO_PASS", where),
        pass_to_pass=_id_list(record["PASS_TO_PASS"], "PASS_TO_PASS", where),
        gold_patch=gold,
        test_patch=record["test_patch"],
        file_to_fix=fixed[0] if fixed else None,
        checkout=find_checkout(repo_dir, record["repo"]),
        base_commit=record["base_commit"],
        extra={"hints_text": record.get("hints_text", ""), "version": record.get("version")},
    )


def find_checkout(repo_dir: Path, repo: str) -> Path:
    """`repo_dir` itself when it is a git clone, else `repo_dir/<name>` or `repo_dir/<owner>__<name>`."""
    owner, _, name = repo.partition("/")
    for candidate in (repo_dir, repo_dir / name, repo_dir / f"{owner}__{name}", repo_dir / repo):
        if (candidate / ".git").exists():
            return candidate
    raise EvalUsageError(f"no git clone of {repo} at {repo_dir} (nor {repo_dir}/{name})")


def structural_problems(task: Task) -> list[str]:
    """What is wrong with a task on paper (empty list when nothing): fields, ids, patches, files."""
    problems: list[str] = []
    if not task.problem_statement.strip():
        problems.append("problem_statement is empty")
    if not task.fail_to_pass and "no-op" not in task.tags:
        problems.append("FAIL_TO_PASS is empty (only a task tagged no-op may have none)")
    if not task.pass_to_pass and not task.fail_to_pass:
        problems.append("no tests at all")
    bad_ids = [i for i in task.test_ids if "::" not in i]
    if bad_ids:
        problems.append(f"not pytest node ids: {', '.join(bad_ids[:3])}")
    dupes = set(task.fail_to_pass) & set(task.pass_to_pass)
    if dupes:
        problems.append(f"in both FAIL_TO_PASS and PASS_TO_PASS: {', '.join(sorted(dupes))}")
    problems += _patch_problems(task)
    if task.repo_dir is not None:
        problems += _tree_problems(task)
    return problems


def _patch_problems(task: Task) -> list[str]:
    problems = []
    try:
        gold_files = touched_files(task.gold_patch)
        test_files = touched_files(task.test_patch)
        parse_patch(task.test_patch)
    except EvalError as exc:
        return [f"a patch does not parse: {exc}"]
    if not task.gold_patch.strip() and task.fail_to_pass:
        problems.append("gold patch is empty but FAIL_TO_PASS is not")
    if not task.test_patch.strip():
        problems.append("test patch is empty")
    problems += [f"gold patch touches a test file: {f}" for f in gold_files if is_test_file(f)]
    problems += [f"test patch touches a non-test file: {f}" for f in test_files if not is_test_file(f)]
    if task.file_to_fix is not None and task.file_to_fix not in gold_files:
        problems.append(f"file_to_fix {task.file_to_fix} is not changed by the gold patch")
    if task.file_to_fix is None and gold_files:
        problems.append("file_to_fix is missing")
    return problems


def _tree_problems(task: Task) -> list[str]:
    assert task.repo_dir is not None
    if not task.repo_dir.is_dir():
        return [f"{task.repo_dir} is missing"]
    problems = []
    files = [p for p in task.repo_dir.rglob("*") if p.is_file()]
    if not 2 <= len(files) <= 10:
        problems.append(f"repo/ has {len(files)} files (expected a small repository)")
    junk = [p.name for p in files if p.suffix == ".pyc" or "__pycache__" in p.parts or p.name == ".git"]
    if junk:
        problems.append(f"repo/ holds build or VCS leftovers: {', '.join(sorted(set(junk))[:3])}")
    visible_ids = {i.split("::")[0] for i in task.test_ids}
    for f in visible_ids - set(touched_files(task.test_patch)):
        if not (task.repo_dir / f).exists():
            problems.append(f"test file {f} is neither in repo/ nor added by the test patch")
    return problems
