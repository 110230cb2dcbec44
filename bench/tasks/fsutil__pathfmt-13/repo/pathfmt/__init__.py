"""pathfmt: display helpers for file paths."""
