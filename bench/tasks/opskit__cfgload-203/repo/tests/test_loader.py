import json

from cfgload import load

DEFAULTS = {"debug": False, "workers": 2, "ratio": 0.5, "name": "svc"}


def test_defaults_only():
    assert load(DEFAULTS, environ={}) == DEFAULTS


def test_json_layer(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"workers": 8}))
    assert load(DEFAULTS, path=str(path), environ={})["workers"] == 8


def test_env_int_float_str():
    s = load(DEFAULTS, environ={"APP_WORKERS": "4", "APP_RATIO": "0.25", "APP_NAME": "api", "OTHER": "x"})
    assert (s["workers"], s["ratio"], s["name"]) == (4, 0.25, "api")


def test_env_true():
    assert load(DEFAULTS, environ={"APP_DEBUG": "true"})["debug"] is True
