"""The error tree drawn in ``payments/domain/errors.py`` is the tree of the classes: every
error the gateway raises on purpose is under PaymentsError, and the drawing misses none."""

from __future__ import annotations

import importlib
import pkgutil
import re

import payments
from payments.domain import errors
from payments.domain.errors import PaymentsError

BRANCH = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+)")


def drawn() -> list[tuple[int, str]]:
    """(depth, class name) for each line of the drawing, in order."""
    doc = errors.__doc__ or ""
    lines = doc.split("    PaymentsError\n", 1)[1].split("\n\n", 1)[0].splitlines()
    tree = [(0, "PaymentsError")]
    for line in lines:
        found = BRANCH.match(line.removeprefix("    "))
        assert found is not None, line
        tree.append((len(found["indent"]) // 4, found["name"]))  # "│   ├── " is depth 2
    return tree


def classes() -> list[tuple[int, str]]:
    for module in pkgutil.walk_packages(payments.__path__, "payments."):
        importlib.import_module(module.name)
    found: list[tuple[int, str]] = []

    def walk(cls: type[PaymentsError], depth: int) -> None:
        found.append((depth, cls.__name__))
        for sub in cls.__subclasses__():
            walk(sub, depth + 1)

    walk(PaymentsError, 0)
    return found


def parents(tree: list[tuple[int, str]]) -> dict[str, str]:
    """Each class's parent, from (depth, name) in depth-first order."""
    stack: list[str] = []
    found = {}
    for depth, name in tree:
        del stack[depth:]
        if stack:
            found[name] = stack[-1]
        stack.append(name)
    return found


def test_the_drawing_is_the_tree_of_the_classes() -> None:
    assert sorted(name for _, name in drawn()) == sorted(name for _, name in classes())
    assert parents(drawn()) == parents(classes())
