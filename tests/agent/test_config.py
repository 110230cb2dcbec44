"""Config precedence: defaults < user file < repo pyproject < PLT_AGENT_* env < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from plt_agent.config import Config, load_config, user_config_path
from plt_agent.errors import UsageError


def _user_file(home: Path, text: str) -> Path:
    path = home / ".config" / "plt-agent" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def _repo(tmp_path: Path, text: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text(text)
    return repo


def test_defaults_without_any_source(hermetic, tmp_path):
    assert load_config(tmp_path) == Config()


def test_user_config_path_respects_xdg(hermetic, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_config_path() == tmp_path / "xdg" / "plt-agent" / "config.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert user_config_path() == hermetic / ".config" / "plt-agent" / "config.toml"


def test_each_source_overrides_the_one_before(hermetic, monkeypatch, tmp_path):
    _user_file(hermetic, 'model = "user-model"\nmax_steps = 7\nmax_seconds = 11\ntemperature = 0.5\n')
    repo = _repo(tmp_path, '[tool.plt-agent]\nmax_steps = 8\nmax_seconds = 12\nmodel = "repo-model"\n')
    monkeypatch.setenv("PLT_AGENT_MAX_SECONDS", "13")
    monkeypatch.setenv("PLT_AGENT_MODEL", "env-model")
    config = load_config(repo, {"model": "flag-model", "max_steps": None})
    assert config.temperature == 0.5  # only the user file sets it
    assert config.max_steps == 8  # repo beats user; the None flag means "not given"
    assert config.max_seconds == 13.0  # env beats repo
    assert config.model == "flag-model"  # flags beat everything


def test_hook_table_and_dashed_keys(hermetic, tmp_path):
    repo = _repo(
        tmp_path, "[tool.plt-agent]\nmax-steps = 4\n[tool.plt-agent.hook]\ntimeout = 5\nstrict = true\n"
    )
    config = load_config(repo)
    assert (config.max_steps, config.hook_timeout, config.hook_strict) == (4, 5.0, True)


def test_env_values_are_parsed_by_type(hermetic, monkeypatch, tmp_path):
    monkeypatch.setenv("PLT_AGENT_HOOK_STRICT", "yes")
    monkeypatch.setenv("PLT_AGENT_CONTEXT", "2048")
    config = load_config(tmp_path)
    assert config.hook_strict is True
    assert config.context == 2048


@pytest.mark.parametrize(
    ("where", "text", "needle"),
    [
        ("user", "max_stepz = 3\n", "unknown setting 'max_stepz'"),
        ("repo", '[tool.plt-agent]\nmax_steps = "many"\n', "max_steps must be an integer"),
        ("repo", '[tool.plt-agent]\nmode = "yolo"\n', "mode must be one of"),
        ("user", "max_steps = [\n", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_source_and_key(hermetic, tmp_path, where, text, needle):
    if where == "user":
        path = _user_file(hermetic, text)
        repo = tmp_path
    else:
        repo = _repo(tmp_path, text)
        path = repo / "pyproject.toml"
    with pytest.raises(UsageError) as info:
        load_config(repo)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_bad_env_value_names_the_variable(hermetic, monkeypatch, tmp_path):
    monkeypatch.setenv("PLT_AGENT_MAX_STEPS", "ten")
    with pytest.raises(UsageError, match="PLT_AGENT_MAX_STEPS"):
        load_config(tmp_path)


def test_config_is_frozen(hermetic, tmp_path):
    config = load_config(tmp_path)
    with pytest.raises(AttributeError):
        config.max_steps = 3  # type: ignore[misc]
