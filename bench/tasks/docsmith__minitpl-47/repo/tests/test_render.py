import pytest

from minitpl.registry import register
from minitpl.render import render


def test_plain_and_dotted():
    assert render("{{ a }}-{{ b.c }}", {"a": 1, "b": {"c": "x"}}) == "1-x"


def test_upper_title_trim():
    assert render("{{ n|trim|upper }}", {"n": "  ab "}) == "AB"
    assert render("{{ n | title }}", {"n": "ada lovelace"}) == "Ada Lovelace"


def test_custom_filter():
    register("rev", lambda s: s[::-1])
    assert render("{{ n|rev }}", {"n": "abc"}) == "cba"


def test_unknown_filter():
    with pytest.raises(KeyError):
        render("{{ n|nope }}", {"n": "x"})
