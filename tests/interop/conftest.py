"""Interop tests run our codecs against independent implementations.

They fail (never skip) when a tool is missing: CI runs ``scripts/install-interop-tools`` first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_PREFIX = ROOT / ".tools" / "node"
BRIDGE = Path(__file__).with_name("vnpay_npm.mjs")

NpmVnpay = Callable[[dict[str, Any]], Any]


@pytest.fixture(scope="session")
def npm_vnpay() -> NpmVnpay:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed; the VNPay interop tests need Node.js 20")
    if not (NODE_PREFIX / "node_modules" / "vnpay" / "package.json").is_file():
        pytest.fail(
            f"npm package vnpay is missing from {NODE_PREFIX}: run scripts/install-interop-tools"
        )

    def call(request: dict[str, Any]) -> Any:
        completed = subprocess.run(
            [node, str(BRIDGE), str(NODE_PREFIX)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if completed.returncode != 0:
            pytest.fail(f"node bridge failed ({completed.returncode}): {completed.stderr}")
        return json.loads(completed.stdout)

    return call
