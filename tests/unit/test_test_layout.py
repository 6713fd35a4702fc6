"""The tests' own layout: no module under tests/ imports a test module (what two tests share
lives in ``tests/support/``), and fixtures are defined in conftest.py files or in the test
module that uses them, so no test imports a fixture by name."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def is_test_module(dotted: str) -> bool:
    return dotted.rsplit(".", 1)[-1].startswith("test_")


def imported_modules(package: list[str], tree: ast.Module) -> list[tuple[int, str]]:
    """Every module imported in ``tree`` (a module of ``package``), dotted and absolute."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.append((node.lineno, module))
            # ``from tests.e2e import test_checkout`` imports a module by name too.
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def fixtures_defined(tree: ast.Module) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any("fixture" in ast.unparse(decorator) for decorator in node.decorator_list)
    ]


def modules_under_tests() -> list[tuple[Path, ast.Module]]:
    return [
        (path.relative_to(ROOT), ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for path in sorted((ROOT / "tests").rglob("*.py"))
    ]


def test_no_module_under_tests_imports_a_test_module() -> None:
    found = [
        f"{path}:{line} imports {module}"
        for path, tree in modules_under_tests()
        for line, module in imported_modules(list(path.parent.parts), tree)
        if module.startswith("tests.") and is_test_module(module)
    ]
    assert found == []


def test_fixtures_are_defined_in_a_conftest_or_the_test_module_that_uses_them() -> None:
    found = [
        f"{path}:{line} defines the fixture {name}"
        for path, tree in modules_under_tests()
        if path.name != "conftest.py" and not is_test_module(path.stem)
        for line, name in fixtures_defined(tree)
    ]
    assert found == []


def test_the_checks_see_every_way_of_importing_and_defining() -> None:
    # The checks above pass on an empty list: each form they look for must be found.
    tree = ast.parse(
        "import tests.e2e.test_a\n"
        "from tests.e2e.test_b import helper\n"
        "from tests.e2e import test_c as flows\n"
        "from .test_d import helper\n"
        "from . import test_e\n"
        "from tests.support import checkout_flows\n"
        "@pytest.fixture\n"
        "async def app() -> None: ...\n"
        "@pytest.fixture(scope='session')\n"
        "def server() -> None: ...\n"
    )
    modules = [m for _, m in imported_modules(["tests", "e2e"], tree) if is_test_module(m)]
    assert modules == [f"tests.e2e.test_{x}" for x in "abcde"]
    assert [name for _, name in fixtures_defined(tree)] == ["app", "server"]
