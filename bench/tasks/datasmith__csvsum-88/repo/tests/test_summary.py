import pytest

from csvsum.summary import summarize_file


def write(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return str(path)


def test_odd_rows(tmp_path):
    s = summarize_file(write(tmp_path, "item,price\na,3\nb,1\nc,2\n"), "price")
    assert s == {"count": 3, "min": 1.0, "max": 3.0, "mean": 2.0, "median": 2.0}


def test_blank_cells_skipped(tmp_path):
    s = summarize_file(write(tmp_path, "item,price\na,4\nb,\nc,8\nd,6\n"), "price")
    assert s["count"] == 3
    assert s["median"] == 6.0


def test_missing_column(tmp_path):
    with pytest.raises(KeyError):
        summarize_file(write(tmp_path, "item,price\na,1\n"), "cost")
