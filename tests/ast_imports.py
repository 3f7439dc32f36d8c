"""Test helper: the modules a piece of Python source imports."""

from __future__ import annotations

import ast
from collections.abc import Iterator


def imported_modules(tree: ast.AST) -> Iterator[str]:
    """Yield the name of every module imported anywhere in ``tree`` (``from x import y`` gives ``x``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""
