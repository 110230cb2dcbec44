from pwcheck import Policy, problems


def test_short_and_no_digit():
    p = Policy(require_upper=False)
    assert problems("abc", p) == ["must be at least 8 characters", "must contain a digit"]


def test_symbol_rule():
    p = Policy(require_upper=False, require_symbol=True)
    assert problems("abcdefg1", p) == ["must contain a symbol"]
    assert problems("abcdefg1!", p) == []
