from dotget import get, set_path


def test_nested_dicts():
    assert get({"a": {"b": {"c": 1}}}, "a.b.c") == 1
    assert get({"a": {}}, "a.x", "d") == "d"


def test_set_path_creates_dicts():
    assert set_path({}, "a.b", 2) == {"a": {"b": 2}}


def test_set_path_list_index():
    data = {"s": [{"h": 1}, {"h": 2}]}
    set_path(data, "s.1.h", 9)
    assert data["s"][1]["h"] == 9
