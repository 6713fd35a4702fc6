"""Running the ``ledger`` command group in-process, as an operator would from a shell."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from click.testing import CliRunner, Result

from payments.entrypoints.cli.ledger import ledger


def run_cli(*args: str) -> Result:
    """On a thread of its own: the command runs its own event loop (asyncio.run)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(CliRunner().invoke, ledger, list(args)).result()
