"""The fuzzer's worker process: runs jobs read as JSON lines from stdin, one result line each.

Started by `harness.Worker` with the repository on PYTHONPATH. Each job runs in this
process (so the imports are paid once); a job that aborts the process (a GGML_ASSERT) or
hangs is seen by the harness, which restarts the worker for the next job. Job kinds:

- `cli`: `plt-agent ARGV` in-process, stdout and stderr captured; `npy`/`ref` name the
  logits file written and a reference to compare it with.
- `tool`: `tools.registry.run_tool` (what the agent calls inside `fix`), then `plt-agent
  tool run` with the same arguments.

- `model`: `plt_agent.models.load_model(path)`, what `fix`/`chat --model FILE.gguf` do: the
  engine for pltcoder files, llama.cpp's own loader for the others.

`forbid` lists paths that must not exist after a job, `unchanged` files whose bytes must stay.

An exception escaping either is reported as `exc` (the harness counts it as a traceback).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import traceback


def _run_cli(argv: list[str]) -> dict:
    from plt_agent.cli import app

    out, err = io.StringIO(), io.StringIO()
    code, exc = None, None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            app(args=argv, prog_name="plt-agent", standalone_mode=True)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except BaseException as error:  # noqa: BLE001 - everything that would print a traceback
            exc = f"{type(error).__name__}: {str(error)[:300]}"
            tb = traceback.extract_tb(error.__traceback__)
            exc += f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
    return {"exit": code, "out": out.getvalue()[-4000:], "err": err.getvalue()[-4000:], "exc": exc}


def _logits_checks(job: dict, result: dict) -> None:
    import numpy as np

    if result["exit"] != 0 or not job.get("npy"):
        return
    try:
        got = np.load(job["npy"])
    except (OSError, ValueError) as error:
        result["exc"] = f"no logits written: {error}"
        return
    result["finite"] = bool(np.isfinite(got).all())
    if job.get("ref"):
        ref = np.load(job["ref"])
        result["same"] = bool(got.shape == ref.shape and np.array_equal(got, ref))


def _run_tool(job: dict) -> dict:
    from tools.registry import run_tool
    from tools.workspace import Workspace

    result: dict = {"exit": None, "out": "", "err": "", "exc": None}
    try:
        ws = Workspace(job["repo"], use_git=not job.get("no_git"))
        obs = run_tool(job["name"], job["args"], ws)
        result["exit"] = 0 if obs.ok else 1
        result["out" if obs.ok else "err"] = obs.text[:20000]
    except BaseException as error:  # noqa: BLE001
        tb = traceback.extract_tb(error.__traceback__)
        where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
        result["exc"] = f"run_tool raised {type(error).__name__}: {str(error)[:300]}{where}"
        return result
    if job.get("cli", True):
        argv = ["tool", "run", job["name"], "--repo", job["repo"], "--args", json.dumps(job["args"])]
        cli = _run_cli(argv + (["--no-git"] if job.get("no_git") else []))
        result["cli_exit"], result["cli_out"], result["cli_err"] = cli["exit"], cli["out"], cli["err"]
        if cli["exc"]:
            result["exc"] = "tool run: " + cli["exc"]
    return result


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def _load_model(job: dict) -> dict:
    """What `fix`/`chat --model FILE.gguf` do first: pick the backend by architecture and load."""
    from engine.errors import EngineError
    from plt_agent.errors import PltAgentError
    from plt_agent.models import ModelOptions, load_model

    try:  # how the CLI prints the message
        from plt_agent.display import printable
    except ImportError:  # code from before plt_agent.display (the fuzzer's "before" figures)
        printable = str

    result: dict = {"exit": None, "out": "", "err": "", "exc": None}
    try:
        model = load_model(job["path"], ModelOptions(context=64, threads=1))
    except (PltAgentError, EngineError) as error:  # the CLI prints these as one line
        result["exit"], result["err"] = 1, f"error: {printable(error)}"
        return result
    except BaseException as error:  # noqa: BLE001
        tb = traceback.extract_tb(error.__traceback__)
        where = f" (at {tb[-1].filename}:{tb[-1].lineno})" if tb else ""
        result["exc"] = f"load_model raised {type(error).__name__}: {str(error)[:300]}{where}"
        return result
    close = getattr(model, "close", None)
    if close:
        close()
    result["exit"], result["out"] = 0, f"loaded {type(model).__name__}"
    return result


def main() -> None:
    os.environ.pop("PLT_AGENT_DEBUG", None)
    # Results go through a private copy of stdout; whatever C code prints to fd 1 goes to stderr.
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for line in sys.stdin:
        job = json.loads(line)
        before = {p: _digest(p) for p in job.get("unchanged", [])}
        if job["kind"] == "cli":
            result = _run_cli(job["argv"])
            _logits_checks(job, result)
        elif job["kind"] == "model":
            result = _load_model(job)
        else:
            result = _run_tool(job)
        result["violations"] = [p for p in job.get("forbid", []) if os.path.lexists(p)]
        result["violations"] += [f"{p} changed" for p, digest in before.items() if _digest(p) != digest]
        proto.write(json.dumps(result) + "\n")
        proto.flush()


if __name__ == "__main__":
    main()
