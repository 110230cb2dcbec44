from mdtable import render
from mdtable.cells import cell_text


def test_cell_text_escapes_pipes():
    assert cell_text("a|b") == "a\\|b"
    assert cell_text(None) == ""


def test_values_wider_than_headers():
    text = render(["a", "b"], [["apple", "12345"]])
    assert text.splitlines() == [
        "| a     | b     |",
        "| ----- | ----- |",
        "| apple | 12345 |",
    ]


def test_right_alignment():
    text = render(["n"], [["7"], ["1234"]], align=["right"])
    assert text.splitlines() == ["|    n |", "| ---: |", "|    7 |", "| 1234 |"]
