"""The whole-file strategy for issue texts (a -m task while the visible tests pass): choosing
the file from the statement (data files included), the usage snippet, line-level merging of
data-file answers, and whole runs with the scripted backend (kept when the visible tests stay
green, rejected when they break)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from agent_helpers import git, tree_bytes

from plt_agent.agent.fix import FixRequest, fix_repository
from plt_agent.agent.profile import choose_profile
from plt_agent.agent.wholefile.answers import check_answer, merge_answer, splice_lines
from plt_agent.agent.wholefile.strategy import issue_prompt
from plt_agent.config import Config
from plt_agent.models.scripted import ScriptedModel
from tools.localize import issue_candidates, repo_map_ranking, usage_snippet
from tools.workspace import Workspace

PRICING = textwrap.dedent('''\
    """Prices and discounts."""


    def discount(total, percent):
        """`total` reduced by `percent` per cent."""
        return total - total * percent / 1000


    def with_tax(total, rate):
        return round(total * (1 + rate), 2)
''')
CART = textwrap.dedent('''\
    """A shopping cart."""

    import json
    from pathlib import Path

    from shop.pricing import discount, with_tax

    RATES = Path(__file__).parent / "data" / "rates.json"


    def tax_rate(kind):
        data = json.loads(RATES.read_text())
        return data[kind]


    def checkout(prices, percent=0, kind="standard"):
        total = discount(sum(prices), percent)
        return with_tax(total, tax_rate(kind))
''')
RATES = '{\n  "standard": 0.2,\n  "reduced": 0.2\n}\n'
TESTS = textwrap.dedent("""\
    from shop.cart import checkout


    def test_checkout_without_discount():
        assert checkout([10, 20]) == 36.0
""")
STATEMENT = textwrap.dedent("""\
    Coupons barely change the price

    `checkout([100], percent=10)` returns 117.6 instead of 108.0: a 10% coupon only takes
    1% off. Prices without a coupon are right.
""")
TAX_STATEMENT = textwrap.dedent("""\
    Books are taxed at the full rate

    `checkout([100], kind="reduced")` gives 120.0, but the reduced rate is 5%, so I expect
    105.0. The standard rate is fine.
""")


class TinyScripted(ScriptedModel):
    """The scripted backend posing as a 135M-parameter model, so `auto` picks whole-file."""

    n_params = 135_000_000


@pytest.fixture
def shop(tmp_path: Path, hermetic: Path) -> Path:
    repo = tmp_path / "shop"
    files = {
        "shop/__init__.py": "",
        "shop/pricing.py": PRICING,
        "shop/cart.py": CART,
        "shop/data/rates.json": RATES,
        "tests/test_cart.py": TESTS,
        "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["."]\n',
    }
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "shop")
    return repo


def _block(code: str, lang: str = "python") -> dict:
    return {"content": f"Here is the corrected file:\n```{lang}\n{code}```\n"}


def _fix(repo: Path, statement: str, replies: list[dict], **request) -> tuple:  # type: ignore[type-arg]
    model = TinyScripted(replies)
    traj = repo.parent / "run.jsonl"
    result = fix_repository(
        FixRequest(repo, message=statement, trajectory=traj, **request), Config(max_steps=8), lambda: model
    )
    events = [json.loads(line) for line in traj.read_text().splitlines()]
    return result, model, events


# -- localisation ------------------------------------------------------------------------------


def test_the_statement_points_at_the_file_defining_what_it_names(shop):
    ws = Workspace(shop)
    ranked = issue_candidates(ws, STATEMENT, ranked=repo_map_ranking(ws, STATEMENT))
    assert ranked[0] == "shop/cart.py"  # `checkout` is named
    assert "shop/pricing.py" in ranked  # what checkout calls for a coupon
    assert not any(p.startswith("tests/") for p in ranked)


def test_a_data_file_the_code_loads_is_a_candidate(shop):
    ws = Workspace(shop)
    ranked = issue_candidates(ws, TAX_STATEMENT, ranked=repo_map_ranking(ws, TAX_STATEMENT))
    assert "shop/data/rates.json" in ranked


def test_a_module_without_definitions_is_a_candidate_only_when_named(shop):
    (shop / "shop/__init__.py").write_text("from shop.cart import checkout\n\n__all__ = ['checkout']\n")
    ws = Workspace(shop)
    assert "shop/__init__.py" not in issue_candidates(ws, STATEMENT, limit=10)
    assert issue_candidates(ws, "shop/__init__.py exports the wrong names")[0] == "shop/__init__.py"


def test_a_file_named_in_the_statement_comes_first(shop):
    ws = Workspace(shop)
    assert issue_candidates(ws, "The values in rates.json look wrong.")[0] == "shop/data/rates.json"
    assert issue_candidates(ws, "Something in shop.pricing is off.")[0] == "shop/pricing.py"


def test_usage_snippet_shows_the_caller_or_the_loader(shop):
    ws = Workspace(shop)
    where, code = usage_snippet(ws, "shop/pricing.py", STATEMENT)
    assert where == "shop/cart.py"
    assert code.startswith("def checkout(")
    assert "discount(" in code
    where, code = usage_snippet(ws, "shop/data/rates.json", TAX_STATEMENT)
    assert where == "shop/cart.py"
    assert "rates.json" in code


def test_the_issue_prompt_holds_the_statement_the_usage_and_the_file():
    messages = issue_prompt("shop/pricing.py", PRICING, STATEMENT, ("shop/cart.py", "def checkout(): ..."))
    user = messages[-1]["content"]
    assert STATEMENT.strip() in user
    assert "def checkout(): ..." in user
    assert PRICING.strip() in user
    assert user.index("def checkout") < user.index('"""Prices and discounts."""')
    assert "```python" in user


# -- merging answers for data files ------------------------------------------------------------


def test_splice_lines_takes_changed_lines_and_keeps_what_the_answer_left_out():
    original = "a = 1\nb = 2\nc = 3\nd = 4\n"
    assert splice_lines(original, "a = 1\nb = 20\n") == "a = 1\nb = 20\nc = 3\nd = 4\n"
    assert splice_lines(original, "c = 3\nd = 4\ne = 5\n") == original + "e = 5\n"


def test_a_data_answer_must_still_parse():
    assert check_answer("x.json", RATES, '{"standard": 0.2, "reduced": }').startswith(
        "the answer is not valid JSON"
    )
    assert check_answer("x.ini", "[a]\nk = 1\n", "k = 2\n").startswith("the answer is not valid INI")
    assert check_answer("x.toml", "k = 1\n", "k = = 2\n").startswith("the answer is not valid TOML")
    assert check_answer("x.json", RATES, RATES.replace("0.2\n", "0.05\n")) == ""


def test_code_pasted_into_a_data_file_is_not_used_though_it_parses():
    ini = "[zones]\neurope = DE FR\ninternational = NL JP\n\n[europe]\nbase = 12.50\n"
    pasted = ini.replace("[europe]", "def load_rates(path=RATES_FILE):\n    return parser\n[europe]")
    problem = check_answer("rates.ini", ini, pasted)
    assert problem.startswith("the answer adds keys unlike the file's own")
    assert "def load_rates(path" in problem
    moved = ini.replace("europe = DE FR", "europe = DE FR NL").replace(
        "international = NL JP", "international = JP"
    )
    assert check_answer("rates.ini", ini, moved) == ""
    added = ini + "max_kg = 5\n"  # a new key in the file's own style is fine
    assert check_answer("rates.ini", ini, added) == ""


def test_a_partial_json_answer_changes_only_its_line():
    answer = '  "reduced": 0.05\n'
    variants = merge_answer("shop/data/rates.json", RATES, answer)
    assert variants[0] == RATES.replace('"reduced": 0.2', '"reduced": 0.05')
    assert json.loads(variants[0]) == {"standard": 0.2, "reduced": 0.05}


# -- whole runs --------------------------------------------------------------------------------


def test_a_tiny_model_with_a_message_and_passing_tests_gets_the_whole_file_mode():
    config = Config()
    assert choose_profile(config, TinyScripted([]), has_failure=False, issue=True).mode == "whole-file"
    assert choose_profile(config, TinyScripted([]), has_failure=False, issue=False).mode == "text"
    unknown_size = choose_profile(config, ScriptedModel([]), has_failure=False, issue=True)
    assert unknown_size.mode == "text"


def test_a_change_that_keeps_the_visible_tests_green_is_submitted_and_kept(shop):
    fixed = PRICING.replace("percent / 1000", "percent / 100")
    result, model, events = _fix(shop, STATEMENT, [_block(fixed)] * 4)
    assert result.mode == "whole-file"
    assert result.outcome.status == "submitted"
    assert result.fixed
    # cart.py (it defines `checkout`) is tried first, at two temperatures: an answer about
    # pricing.py changes nothing there; then pricing.py takes it
    assert model.n_calls == 3
    assert (shop / "shop/pricing.py").read_text() == fixed
    assert "+    return total - total * percent / 100" in result.diff
    assert events[-1]["status"] == "submitted"


def test_a_change_that_breaks_a_visible_test_is_rejected_and_the_next_is_kept(shop):
    breaks = PRICING.replace("return round(total * (1 + rate), 2)", "return total")
    fixed = PRICING.replace("percent / 1000", "percent / 100")
    # cart.py is the first candidate; answers about pricing.py there change nothing (rejected)
    script = [_block(breaks), _block(breaks), _block(breaks), _block(fixed)]
    result, model, events = _fix(shop, STATEMENT, script)
    assert result.outcome.status == "submitted"
    assert (shop / "shop/pricing.py").read_text() == fixed
    verdicts = [e["passed"] for e in events if e["type"] == "verify"]
    assert verdicts[-1] is True
    assert False in verdicts
    assert "return total\n" not in result.diff


def test_when_no_answer_keeps_the_tests_green_nothing_is_changed(shop):
    before = tree_bytes(shop)
    breaks = PRICING.replace("return round(total * (1 + rate), 2)", "return total")
    result, model, _ = _fix(shop, STATEMENT, [_block(breaks)] * 8, keep_changes=True)
    assert result.outcome.status in ("not_fixed", "max_steps")
    assert not result.fixed
    assert tree_bytes(shop) == before  # broken changes are never kept, keep_changes or not
    assert result.diff == ""


def test_a_json_answer_fixes_a_data_file(shop):
    fixed_rates = RATES.replace('"reduced": 0.2', '"reduced": 0.05')
    # answers in JSON for whatever file is asked: only the JSON file accepts one
    replies = [_block(fixed_rates, "json")] * 8
    result, model, events = _fix(shop, TAX_STATEMENT, replies)
    assert result.outcome.status == "submitted"
    assert (shop / "shop/data/rates.json").read_text() == fixed_rates
    assert json.loads((shop / "shop/data/rates.json").read_text())["reduced"] == 0.05


def test_python_answers_that_drop_every_definition_or_only_add_comments_are_not_used():
    stray = "from shop.pricing import discount\nprint(discount(1, 2))\n"
    variants = merge_answer("shop/cart.py", CART, stray)
    assert all(check_answer("shop/cart.py", CART, v) for v in variants)  # CART is kept whole
    commented = PRICING + "\n# Original file\n"
    assert check_answer("shop/pricing.py", PRICING, commented) == "the answer changes only comments or layout"
    reworded = PRICING.replace('"""Prices and discounts."""', '"""Prices, discounts."""')
    assert check_answer("shop/pricing.py", PRICING, reworded) == ""  # a docstring is code-visible text
