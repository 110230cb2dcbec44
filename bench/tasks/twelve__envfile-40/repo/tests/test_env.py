import pytest

from envfile import load_env, parse_env
from envfile.line import EnvSyntaxError


def test_plain_and_export():
    assert parse_env("A=1\nexport B = two\n") == {"A": "1", "B": "two"}


def test_comments():
    assert parse_env("# c\nA=1 # trailing\n\n") == {"A": "1"}


def test_load(tmp_path):
    p = tmp_path / ".env"
    p.write_text("X=y\n")
    assert load_env(str(p)) == {"X": "y"}


def test_syntax_error():
    with pytest.raises(EnvSyntaxError):
        parse_env("JUSTAWORD")
