"""The docs name source files in plain text (MkDocs checks links, not these): every path named
must exist, so a moved module cannot leave the docs pointing at nothing."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A file (with its extension) or a folder (with its trailing slash) under a source folder; an
# API path such as /v1/payments/pay_... is neither.
SOURCE_PATH = re.compile(
    r"(?<![/\w.])(?:payments|tests|bench|scripts|alembic|docs)/"
    r"(?:[\w-]+/)*(?:[\w-]+\.(?:py|html|json|yml|yaml|md|toml|ini)\b|(?=[\s`)]))"
)


def _named_paths() -> dict[str, list[str]]:
    named: dict[str, list[str]] = {}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]:
        for found in SOURCE_PATH.findall(page.read_text(encoding="utf-8")):
            named.setdefault(found, []).append(str(page.relative_to(ROOT)))
    return named


def test_the_docs_name_source_paths() -> None:
    assert len(_named_paths()) > 5  # the pattern still finds what the pages name


def test_every_source_path_the_docs_name_exists() -> None:
    missing = {path: pages for path, pages in _named_paths().items() if not (ROOT / path).exists()}
    assert not missing, f"the docs name paths that do not exist: {missing}"
