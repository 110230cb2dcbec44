"""The repo map ranks the file to fix near the top for its real failing test output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from toolrepos import geometry_js_files, git, ledger_files, make_repo, shop_files

from tools import tags as tags_module
from tools.registry import run_tool
from tools.repomap import RepoMap, pagerank, rank_files, render_map
from tools.workspace import Workspace


def failing_output(root: Path, command: list[str]) -> str:
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stdout  # the fixture's test really fails
    return proc.stdout + proc.stderr


def pytest_output(root: Path) -> str:
    return failing_output(root, [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--tb=short"])


def rank_of(root: Path, query: str, target: str) -> int:
    ranked = [rel for rel, _ in rank_files(root, query)]
    return ranked.index(target) + 1


def test_cross_file_bug_ranks_in_the_top_two(tmp_path):
    """tests/test_cart.py fails; the bug is in shop/discounts.py, reached through shop/cart.py."""
    root = make_repo(tmp_path / "shop", shop_files())
    output = pytest_output(root)
    assert "discounts.py" not in output  # the traceback does not name the buggy file
    assert rank_of(root, output, "shop/discounts.py") <= 2


def test_bug_two_hops_away_still_ranks_in_the_top_three(tmp_path):
    """cart.py -> pricing.py -> discounts.py: both intermediaries are as plausible as the bug."""
    root = make_repo(tmp_path / "shopdeep", shop_files(deep=True))
    assert rank_of(root, pytest_output(root), "shop/discounts.py") <= 3


def test_file_named_in_the_traceback_ranks_first(tmp_path):
    root = make_repo(tmp_path / "ledger", ledger_files())
    assert rank_of(root, pytest_output(root), "ledger/rates.py") == 1


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_javascript_cross_file_bug(tmp_path):
    root = make_repo(tmp_path / "geo", geometry_js_files())
    output = failing_output(root, ["node", "test/shapes.test.js"])
    assert rank_of(root, output, "src/units.js") <= 2


def test_no_query_still_ranks_every_source_file(tmp_path):
    root = make_repo(tmp_path / "shop", shop_files())
    ranked = rank_files(root)
    assert sorted(rel for rel, _ in ranked) == sorted(rel for rel in shop_files() if rel.endswith(".py"))
    assert abs(sum(score for _, score in ranked) - 1.0) < 1e-6


def test_render_fits_the_budget_and_leads_with_the_best_file(tmp_path):
    root = make_repo(tmp_path / "ledger", ledger_files())
    output = pytest_output(root)
    words = lambda text: len(text.split())  # noqa: E731 - a stand-in tokenizer
    for budget in (40, 80, 400):
        text = render_map(root, output, budget, count_tokens=words)
        assert words(text) <= budget
    small = render_map(root, output, 40, count_tokens=words).splitlines()
    assert small[1] == "ledger/rates.py"
    assert "def conversion_rate(currency):" in small[3]
    assert "more source files not shown" in small[-1]
    assert "ledger/export.py" in render_map(root, output, 10_000)


def test_map_tool_output(tmp_path):
    root = make_repo(tmp_path / "shop", shop_files())
    obs = run_tool("repo_map", {"query": "apply_discount is wrong", "budget_tokens": 2000}, Workspace(root))
    assert obs.ok
    assert obs.data["ranked"][0] == "shop/discounts.py"
    assert "    5: def apply_discount(amount, percent):" in obs.text


def test_tags_are_cached_by_mtime_outside_the_work_tree(tmp_path, monkeypatch):
    root = make_repo(tmp_path / "shop", shop_files())
    RepoMap(root).tags()
    calls: list[str] = []
    real = tags_module.extract
    monkeypatch.setattr(tags_module, "extract", lambda path, src: calls.append(path) or real(path, src))
    RepoMap(root).tags()
    assert calls == []
    (root / "shop" / "formatting.py").write_text(
        "def money(amount):\n    return str(amount)\n\n\ndef cents(x):\n    pass\n"
    )
    fresh = RepoMap(root).tags()
    assert calls == ["shop/formatting.py"]
    assert [d.name for d in fresh["shop/formatting.py"].defs] == ["money", "cents"]
    assert git(root, "status", "--porcelain") == " M shop/formatting.py\n"


def test_gitignored_files_are_left_out(tmp_path):
    files = {**ledger_files(), ".gitignore": "generated/\n"}
    root = make_repo(tmp_path / "ledger", files)
    (root / "generated").mkdir()
    (root / "generated" / "conversion.py").write_text("def conversion_rate(c):\n    return 1\n")
    assert "generated/conversion.py" not in [rel for rel, _ in rank_files(root, "conversion_rate")]


def test_progress_bar_path_yields_every_file(tmp_path, monkeypatch):
    root = make_repo(tmp_path / "shop", shop_files())
    monkeypatch.setattr(tags_module, "PROGRESS_MIN_FILES", 1)
    tags = RepoMap(root).tags(progress=True)
    assert set(tags) == {rel for rel in shop_files() if rel.endswith(".py")}


LANGUAGE_SAMPLES = [
    (
        "a.py",
        "class Shape:\n    def area(self):\n        return helper()\n\ndef helper():\n    pass\n",
        {"Shape", "area", "helper"},
    ),
    (
        "a.js",
        "class Shape { area() { return helper(); } }\nfunction helper() {}\n",
        {"Shape", "area", "helper"},
    ),
    (
        "a.ts",
        "interface Sized { size(): number }\nclass Box { area(): number { return helper(); } }\n"
        "function helper(): number { return 1; }\n",
        {"Sized", "size", "Box", "area", "helper"},
    ),
    (
        "a.go",
        "package geo\n\ntype Box struct{}\n\nfunc (b Box) Area() int { return helper() }\n\n"
        "func helper() int { return 1 }\n",
        {"Box", "Area", "helper"},
    ),
    (
        "a.rs",
        "struct Box;\nimpl Box { fn area(&self) -> i32 { helper() } }\nfn helper() -> i32 { 1 }\n",
        {"Box", "area", "helper"},
    ),
    (
        "A.java",
        "class Box { int area() { return helper(); } static int helper() { return 1; } }\n",
        {"Box", "area", "helper"},
    ),
    (
        "a.c",
        "struct box { int w; };\nint helper(void) { return 1; }\nint area(void) { return helper(); }\n",
        {"box", "helper", "area"},
    ),
    (
        "a.cpp",
        "class Box { public: int area(); };\nint Box::area() { return helper(); }\n"
        "int helper() { return 1; }\n",
        {"Box", "area", "helper"},
    ),
]


@pytest.mark.parametrize(("path", "source", "names"), LANGUAGE_SAMPLES, ids=[s[0] for s in LANGUAGE_SAMPLES])
def test_definitions_and_references_in_every_language(path, source, names):
    found = tags_module.extract(path, source.encode())
    assert {d.name for d in found.defs} == names
    assert found.refs["helper"] >= 1  # the call site, not the definition


def test_pagerank_matches_the_linear_solution():
    import numpy as np

    edges = [(0, 1, 2.0, "a"), (0, 2, 1.0, "b"), (1, 2, 1.0, "c"), (3, 0, 1.0, "d")]
    personal = [1.0, 0.0, 0.0, 1.0]
    got = np.array(pagerank(4, edges, personal, iterations=1000))
    # Solve r = d (W^T r + p * sum(r[dangling])) + (1 - d) p directly.
    d, p = 0.85, np.array(personal) / 2
    w = np.zeros((4, 4))
    for s, t, weight, _ in edges:
        w[s, t] += weight
    out = w.sum(axis=1)
    transition = np.divide(w, out[:, None], where=out[:, None] > 0, out=np.zeros_like(w))
    dangling = (out == 0).astype(float)
    system = np.eye(4) - d * (transition.T + np.outer(p, dangling))
    expected = np.linalg.solve(system, (1 - d) * p)
    assert np.allclose(got, expected, atol=1e-8)


def hub_repo_files() -> dict[str, str]:
    """app/core.py is used by every module; app/feature3.py calls app/mathutil.py, which fails."""
    files = {
        "app/core.py": (
            "class Context:\n    pass\n\n\nclass Settings:\n    pass\n\n\n"
            "def log_event(ctx, name):\n    return name\n"
        ),
        "app/mathutil.py": (
            "def normalise_weights(ws):\n    total = sum(ws)\n    return [w / total for w in ws]\n"
        ),
    }
    for n in range(6):
        files[f"app/widget{n}.py"] = (
            "from app.core import Context, Settings, log_event\n\n\n"
            f"def render_widget{n}(ctx: Context, settings: Settings):\n"
            f"    log_event(ctx, 'widget{n}')\n    return Settings()\n"
        )
    for n in range(8):
        widgets = [f"render_widget{(n + k) % 6}" for k in range(3)]
        extra = "from app.mathutil import normalise_weights\n" if n == 3 else ""
        call = "    return normalise_weights([0, 0])\n" if n == 3 else "    return Context()\n"
        files[f"app/feature{n}.py"] = (
            "from app.core import Context, Settings, log_event\n"
            + "".join(f"from app.widget{(n + k) % 6} import {w}\n" for k, w in enumerate(widgets))
            + extra
            + f"\n\ndef run_feature{n}(ctx: Context):\n    log_event(ctx, 'feature{n}')\n"
            + "".join(f"    {w}(ctx, Settings())\n" for w in widgets)
            + call
        )
    return files


def test_a_hub_everyone_uses_does_not_outrank_what_the_query_names(tmp_path):
    root = make_repo(tmp_path / "hub", hub_repo_files())
    query = (  # names the caller's file and the called function, not the callee's file
        'Traceback (most recent call last):\n  File "app/feature3.py", line 11, in run_feature3\n'
        "    return normalise_weights([0, 0])\nZeroDivisionError: division by zero\n"
    )
    ranked = [rel for rel, _ in rank_files(root, query)]
    assert ranked[:2] == ["app/feature3.py", "app/mathutil.py"]


def test_a_data_file_the_code_loads_joins_the_ranking(tmp_path):
    files = {
        "money/__init__.py": "",
        "money/currencies.json": '{"USD": {"decimals": 2}, "JPY": {"decimals": 2}}\n',
        "money/registry.py": (
            "import json\nfrom pathlib import Path\n\n\n"
            "def currency_decimals(code):\n"
            "    table = json.loads(Path(__file__).with_name('currencies.json').read_text())\n"
            "    return table[code]['decimals']\n"
        ),
        "money/fmt.py": (
            "from money.registry import currency_decimals\n\n\n"
            "def format_money(amount, code):\n"
            "    return f'{amount:,.{currency_decimals(code)}f} {code}'\n"
        ),
        "money/notes.txt": "Unrelated notes.\n",
        "tests/test_fmt.py": (
            "from money.fmt import format_money\n\n\n"
            "def test_yen_has_no_decimals():\n    assert format_money(1200, 'JPY') == '1,200 JPY'\n"
        ),
    }
    root = make_repo(tmp_path / "money", files)
    ranked = [rel for rel, _ in rank_files(root, pytest_output(root))]
    assert "money/notes.txt" not in ranked  # no code names it
    assert ranked.index("money/currencies.json") + 1 <= 3
    assert "money/currencies.json (data file)" in render_map(root, pytest_output(root), 2000)
