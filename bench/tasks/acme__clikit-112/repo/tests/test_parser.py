import pytest

from clikit import ParseError, Parser


def make():
    return Parser().add_option("count", type=int, default=1).add_option("verbose", flag=True).add_option("name")


def test_defaults():
    values, rest = make().parse([])
    assert values == {"count": 1, "verbose": False, "name": None}
    assert rest == []


def test_separate_value_and_positional():
    values, rest = make().parse(["--count", "3", "a.txt", "--verbose"])
    assert values["count"] == 3
    assert values["verbose"] is True
    assert rest == ["a.txt"]


def test_equals_spelling():
    values, _ = make().parse(["--name=bob"])
    assert values["name"] == "bob"


def test_double_dash_ends_options():
    _, rest = make().parse(["--", "--count", "2"])
    assert rest == ["--count", "2"]


def test_unknown_option():
    with pytest.raises(ParseError):
        make().parse(["--nope"])


def test_bad_int():
    with pytest.raises(ParseError):
        make().parse(["--count", "x"])
