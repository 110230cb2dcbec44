from confmerge.flatten import flatten, unflatten


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a.b": 1, "a.c.d": 2, "e": 3}


def test_roundtrip():
    data = {"db": {"host": "x", "port": 5432}, "debug": False}
    assert unflatten(flatten(data)) == data


def test_custom_sep():
    assert flatten({"a": {"b": 1}}, sep="__") == {"a__b": 1}
