"""A leading underscore means "this module's own": no module imports another's private name
(a name one module needs from another is part of that module's interface, and named so)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def private_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} imports {alias.name} from {node.module}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__"
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_module_imports_another_modules_private_names() -> None:
    found = [
        hit
        for folder in ("payments", "bench", "tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for hit in private_imports(path)
    ]
    assert found == []
