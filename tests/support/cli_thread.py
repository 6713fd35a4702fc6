"""Running the ``payments`` command from an async test."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from click.testing import CliRunner, Result

from payments.entrypoints.cli import cli


def run_cli(*args: str) -> Result:
    """On a thread of its own: the command runs its own event loop (asyncio.run)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(CliRunner().invoke, cli, list(args)).result()
