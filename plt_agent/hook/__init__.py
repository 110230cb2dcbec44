"""The git pre-commit hook: install/uninstall (install.py), deterministic checks (checks.py),
the model review (review.py) and `hook run` (run.py), over read-only git helpers (git.py)."""
