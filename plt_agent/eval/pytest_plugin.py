"""A pytest plugin that writes one JSON line per test phase to $PLT_EVAL_RESULTS.

`pytest_run` copies this file into a private directory and loads it with `-p`, so it works
whatever the repository under test is. It records node ids exactly as pytest names them,
plus collection failures (a module that does not import), so results are read per node id
instead of being scraped from the terminal.
"""

import json
import os


def _write(record):
    path = os.environ.get("PLT_EVAL_RESULTS")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def pytest_runtest_logreport(report):
    _write(
        {
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail"),
        }
    )


def pytest_collectreport(report):
    if report.failed:
        _write({"nodeid": report.nodeid, "when": "collect", "outcome": "failed", "xfail": False})
