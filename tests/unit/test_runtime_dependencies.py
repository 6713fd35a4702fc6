"""The gateway runs on what ``pyproject.toml``'s ``dependencies`` install, and on nothing the
``dev`` extras bring: ``scripts/demo`` installs only the former (``scripts/install-python``),
so a machine with Python and no Node.js, no browser and no test tools can serve.

- no module under ``payments/`` imports a package that only the dev extras install;
- every runtime dependency is used by the gateway (none is there only for the tests);
- with every package that only the dev extras install made unimportable, each module under
  ``payments/`` imports and the app starts, migrates and answers (a subprocess: dynamic
  imports are caught too).
"""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(line) for line in PROJECT["dependencies"]]
DEV = [Requirement(line) for line in PROJECT["optional-dependencies"]["dev"]]

# Runtime dependencies the gateway uses without importing them by name: each says by whom.
USED_INDIRECTLY = {
    "uvloop": "uvicorn's event loop (loop='auto')",
    "httptools": "uvicorn's HTTP parser (http='auto')",
    "python-multipart": "Starlette's form parser (checkout, console and sandbox forms)",
    "itsdangerous": "Starlette's SessionMiddleware (the staff console's cookie)",
    "aiosqlite": "SQLAlchemy's sqlite+aiosqlite driver (the embedded database)",
    "asyncpg": "SQLAlchemy's postgresql+asyncpg driver (the production database)",
}


def _applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (*extras, ""))


@cache
def _requires(name: str) -> tuple[str, ...]:
    return tuple(importlib.metadata.requires(name) or ())


def installed_closure(requirements: Iterable[Requirement]) -> frozenset[str]:
    """The distributions these requirements install on this machine, transitively (canonical
    names), with the extras each one asks for (``sqlalchemy[asyncio]`` brings greenlet)."""
    found: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(r, frozenset[str]()) for r in requirements]
    while todo:
        requirement, parent_extras = todo.pop()
        if not _applies(requirement, parent_extras):
            continue
        name, extras = canonicalize_name(requirement.name), frozenset(requirement.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        found.add(name)
        todo.extend((Requirement(line), extras) for line in _requires(name))
    return frozenset(found)


def module_owners() -> dict[str, frozenset[str]]:
    """Top-level module -> the distributions that install it (canonical names)."""
    return {
        module: frozenset(canonicalize_name(d) for d in dists)
        for module, dists in importlib.metadata.packages_distributions().items()
    }


def third_party_imports() -> list[tuple[str, int, str]]:
    """(file, line, top-level module) of every absolute import of a non-stdlib module under
    payments/, type-checking-only imports included."""
    found = []
    for path in sorted((ROOT / "payments").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in {"payments", "__future__"}:
                    found.append((str(path.relative_to(ROOT)), node.lineno, top))
    return found


def dev_only_modules() -> frozenset[str]:
    """Top-level modules that only the dev extras install."""
    dev_only = installed_closure(DEV) - installed_closure(RUNTIME)
    return frozenset(m for m, owners in module_owners().items() if owners <= dev_only)


def test_the_closures_are_computed_from_the_installed_metadata() -> None:
    runtime = installed_closure(RUNTIME)
    # A direct dependency, a transitive one, and one that only an extra asks for.
    assert {"starlette", "anyio", "greenlet"} <= runtime
    assert "pytest" not in runtime
    assert {"pytest", "pluggy", "hypothesis"} <= installed_closure(DEV)
    assert {"pytest", "_pytest", "hypothesis", "playwright"} <= dev_only_modules()


def test_no_module_of_the_gateway_imports_a_package_only_the_dev_extras_install() -> None:
    runtime, owners = installed_closure(RUNTIME), module_owners()
    found = [
        f"{path}:{line} imports {module} ({', '.join(sorted(owners.get(module, ())))})"
        for path, line, module in third_party_imports()
        if not owners.get(module, frozenset()) & runtime
    ]
    assert found == []


def test_every_runtime_dependency_is_used_by_the_gateway() -> None:
    owners = module_owners()
    imported = {d for _, _, module in third_party_imports() for d in owners.get(module, ())}
    unused = [
        r.name
        for r in RUNTIME
        if canonicalize_name(r.name) not in imported and r.name not in USED_INDIRECTLY
    ]
    assert unused == [], "runtime dependencies nothing in payments/ uses (dev extras?)"
    stale = [name for name in USED_INDIRECTLY if name not in {r.name for r in RUNTIME}]
    assert stale == []


STARTS_WITHOUT_DEV_PACKAGES = """
import importlib, importlib.abc, pkgutil, sys

BLOCKED = frozenset(sys.argv[1].split(","))


class DevOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{name} is installed only by the dev extras", name=name)
        return None


sys.meta_path.insert(0, DevOnly())
import payments

for info in pkgutil.walk_packages(payments.__path__, "payments."):
    importlib.import_module(info.name)

from starlette.testclient import TestClient

from payments.adapters.db.migrations import upgrade_to_head
from payments.entrypoints.app import create_app
from payments.settings import Settings

url = "sqlite+aiosqlite:///" + sys.argv[2]
upgrade_to_head(url)
with TestClient(create_app(Settings(database_url=url, sandbox=True, log_level="warning"))) as c:
    ready = c.get("/readyz")
    assert ready.status_code == 200, ready.text
    page = c.get("/openapi.json")
    assert page.status_code == 200, page.text
    metrics = c.get("/metrics")
    assert metrics.status_code == 200, metrics.text
    assert "payments_database_up 1.0" in metrics.text, metrics.text
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
assert not loaded, loaded
print("served")
"""


def test_the_app_imports_and_starts_with_the_dev_only_packages_unimportable(
    tmp_path: Path,
) -> None:
    blocked = dev_only_modules()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            STARTS_WITHOUT_DEV_PACKAGES,
            ",".join(sorted(blocked)),
            str(tmp_path / "runtime.db"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip().endswith("served")
