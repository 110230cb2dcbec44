"""The agent's tools: repo map, view, search, edit, tests, shell, diff and undo; git (`tools.git`)."""
