import pytest

from calc import evaluate
from calc.errors import CalcSyntaxError


def test_precedence():
    assert evaluate("2 + 3 * 4") == 14
    assert evaluate("2 * (3 + 4)") == 14


def test_power_right_assoc():
    assert evaluate("2 ** 3 ** 2") == 512


def test_names_and_negation():
    assert evaluate("-x + 10", x=4) == 6


def test_syntax_errors():
    with pytest.raises(CalcSyntaxError):
        evaluate("(1 + 2")
    with pytest.raises(CalcSyntaxError):
        evaluate("1 $ 2")
