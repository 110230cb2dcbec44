"""What kind of file a path is, by its name alone: the one table of file suffixes, and the
one rule for test files.

- `CODE`: suffix -> language of source files (the tree-sitter grammar's name where there is
  one, which is also the tag of a fenced block holding the file);
- `DATA`: suffix -> fence tag of data files code loads (.json, .ini, ...; '' when none);
- `language`, `fence_lang`, `is_source`, `is_data`, `is_test_file`: questions about a path.

Pure functions of the path; nothing here reads files.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

CODE = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".rb": "ruby",
    ".php": "php",
}
DATA = {
    ".json": "json",
    ".ini": "ini",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".csv": "csv",
    ".tsv": "",
    ".txt": "",
    ".cfg": "ini",
    ".conf": "",
    ".xml": "xml",
    ".sql": "sql",
    ".html": "html",
}
TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec"})
_TEST_NAME = re.compile(
    r"test_.*|conftest\.py|.*_tests?\.py|.*_test\.go|.*\.(test|spec)\.[cm]?[jt]sx?|.*Tests?\.java"
)


def suffix(path: str) -> str:
    return PurePosixPath(path).suffix.lower()


def language(path: str) -> str:
    """The language of a source file ('' for anything else)."""
    return CODE.get(suffix(path), "")


def fence_lang(path: str) -> str:
    """The language tag of a fenced block holding `path` ('' when unknown)."""
    return CODE.get(suffix(path)) or DATA.get(suffix(path), "")


def is_source(path: str) -> bool:
    return suffix(path) in CODE


def is_data(path: str) -> bool:
    return suffix(path) in DATA


def is_test_file(path: str) -> bool:
    """Whether a path is a test by the usual conventions: under a tests/ (test, testing,
    __tests__, spec) folder, or named test_*, conftest.py, *_test(s).py, *_test.go,
    *.test.js / *.spec.ts and the like, or *Test(s).java."""
    parts = PurePosixPath(path).parts
    return bool(TEST_DIRS.intersection(parts[:-1])) or bool(parts and _TEST_NAME.fullmatch(parts[-1]))
