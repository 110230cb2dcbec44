"""Tree-sitter languages by file extension, with their definition and identifier queries.

Grammars come from the per-language wheels (tree-sitter-python, -javascript, -typescript,
-go, -rust, -java, -c, -cpp), which work offline. Definitions use each grammar's bundled
TAGS_QUERY; TypeScript ships none, so one is written here. References are every
identifier-like leaf, found with a query built from the node kinds the grammar has.

Everything is loaded on first use and memoised; importing this module loads nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from tools.filekinds import language

# language name -> (module, function returning the grammar pointer); one wheel per language,
# except typescript's, which holds two grammars
_PLAIN = ("python", "javascript", "go", "rust", "java", "c", "cpp")
_GRAMMARS = {
    **{name: (f"tree_sitter_{name}", "language") for name in _PLAIN},
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
}

_TYPESCRIPT_TAGS = """
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(function_signature name: (identifier) @name) @definition.function
(class_declaration name: (type_identifier) @name) @definition.class
(abstract_class_declaration name: (type_identifier) @name) @definition.class
(interface_declaration name: (type_identifier) @name) @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.type
(method_definition name: (property_identifier) @name) @definition.method
(method_signature name: (property_identifier) @name) @definition.method
(abstract_method_signature name: (property_identifier) @name) @definition.method
(module name: (identifier) @name) @definition.module
(internal_module name: (identifier) @name) @definition.module
(lexical_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]))
  @definition.function
"""

_IDENTIFIER_KINDS = (
    "identifier",
    "type_identifier",
    "field_identifier",
    "property_identifier",
    "shorthand_property_identifier",
    "namespace_identifier",
    "package_identifier",
)


@dataclass(frozen=True)
class LanguageSupport:
    name: str
    language: Any  # tree_sitter.Language
    tags: Any  # tree_sitter.Query with @name and @definition.* captures
    identifiers: Any  # tree_sitter.Query capturing identifier leaves as @ref

    def parse(self, source: bytes) -> Any:
        import tree_sitter

        return tree_sitter.Parser(self.language).parse(source)


def language_name(path: str) -> str | None:
    """The language of a path by its extension (`filekinds`), or None when there is no grammar for it."""
    name = language(path)
    return name if name in _GRAMMARS else None


def for_path(path: str) -> LanguageSupport | None:
    name = language_name(path)
    return load(name) if name else None


@cache
def load(name: str) -> LanguageSupport:
    import tree_sitter

    module_name, func = _GRAMMARS[name]
    module = importlib.import_module(module_name)
    language = tree_sitter.Language(getattr(module, func)())
    tags_source = _TYPESCRIPT_TAGS if name in ("typescript", "tsx") else module.TAGS_QUERY
    kinds = [k for k in _IDENTIFIER_KINDS if language.id_for_node_kind(k, True)]
    identifiers = tree_sitter.Query(language, "[" + " ".join(f"({k})" for k in kinds) + "] @ref")
    return LanguageSupport(name, language, tree_sitter.Query(language, tags_source), identifiers)


def first_error(node: Any) -> Any | None:
    """The first ERROR or MISSING node under `node` in document order, or None."""
    if not node.has_error:
        return None
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        found = first_error(child)
        if found is not None:
            return found
    return node
