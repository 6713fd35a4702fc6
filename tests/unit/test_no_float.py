"""Money never passes through float: no float literal, call or annotation under payments/.

A module that truly needs a float for something that is not money (a timeout in seconds, say)
is listed in ALLOWED with the reason; amounts must stay int minor units or Decimal text.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "payments"
ALLOWED: dict[str, str] = {
    "payments/adapters/metrics.py": "Prometheus samples are floats: seconds of latency and "
    "histogram bucket bounds; no amount of money is exported",
}


def _float_uses(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append((node.lineno, f"float literal {node.value!r}"))
        elif isinstance(node, ast.Name) and node.id == "float":
            # Covers float(...) calls, annotations, isinstance(x, float) and casts alike.
            found.append((node.lineno, "the name float"))
        elif isinstance(node, ast.Constant) and node.value == "float":
            found.append((node.lineno, "a 'float' string annotation"))
        elif isinstance(node, ast.Attribute) and node.attr == "float":
            found.append((node.lineno, "an attribute named float"))
    return found


def test_checker_sees_literals_calls_and_annotations() -> None:
    tree = ast.parse("x: float = float('1') + 2.5\ndef f(a: 'float') -> None: ...\n")
    assert len(_float_uses(tree)) == 4


def test_no_float_under_payments() -> None:
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if relative in ALLOWED:
            continue
        for line, what in _float_uses(ast.parse(path.read_text(), filename=str(path))):
            offences.append(f"{relative}:{line}: {what}")
    assert offences == [], "money must not pass through float:\n" + "\n".join(offences)
