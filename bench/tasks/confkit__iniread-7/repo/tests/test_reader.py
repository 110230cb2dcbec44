import pytest

from iniread import IniError, read_ini
from iniread.typed import get_int

SAMPLE = """
# top comment
[server]
Host = example.org
port = 8080

[paths]
root = /srv/app = main
"""


def test_sections_and_keys():
    data = read_ini(SAMPLE)
    assert data["server"] == {"host": "example.org", "port": "8080"}
    assert data["paths"]["root"] == "/srv/app = main"


def test_get_int():
    assert get_int(SAMPLE, "server", "PORT") == 8080
    assert get_int(SAMPLE, "server", "missing", 5) == 5


def test_errors():
    with pytest.raises(IniError):
        read_ini("[server\nx = 1")
    with pytest.raises(IniError):
        read_ini("x = 1")
