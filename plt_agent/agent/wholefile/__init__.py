"""The whole-file strategy for models too small to drive tools: the scaffold picks the file,
the model rewrites it, the answer is applied as the smallest change and tested.

- `WholeFileRun` (`strategy`): the attempts, for failing tests and for issue texts;
- `merge_answer`, `check_answer` (`answers`): a rewritten file applied as the smallest change;
- `splice_python` (`pysplice`): the same for Python, definition by definition.
"""
