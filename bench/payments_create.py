"""Benchmark: how fast the gateway creates payments on PostgreSQL, against pgbench as a yardstick.

Run (PostgreSQL on 127.0.0.1:5432, user ``postgres``, trust auth, admin database ``test``)::

    . .venv/bin/activate
    python -m bench.payments_create                  # 1 and 2 worker processes, 10 s per phase
    python -m bench.payments_create --workers 2 --duration 5 --connections 32

What it does, in one run:

1. creates a throw-away database, migrates it to head, seeds an agency and a portal API key;
2. for each worker count, starts the gateway as a real server (``uvicorn`` with the same options
   as ``payments serve``; ``PAYMENTS_DATABASE_URL`` pointing at the bench database,
   ``PAYMENTS_LOG_LEVEL=warning``, a rate limit per key far above the load, so the limiter's
   cost is measured and it never refuses) and, from a separate load-generator process:
   - closed loop at full speed for ``--duration`` seconds with ``--connections`` keep-alive
     connections, each ``POST /v1/payments`` carrying a new Idempotency-Key and reference;
   - open loop at half the measured throughput (fixed arrival rate; latency counted from the
     scheduled arrival, so queueing is not hidden);
3. ``pgbench -i`` into a second throw-away database, then ``pgbench -N -c 8 -j 2 -T <duration>``;
4. drops both databases and stops every server it started, also on error or Ctrl-C.

It prints one line per phase (the shape below; the figures of a real run are in the issue
notes, not here)::

    workers=N full   : <req/s>  p50 <ms>  p99 <ms>  errors <n>  (<n> requests; server CPU <ms>)
    workers=N half   : <req/s>  p50 <ms>  p99 <ms>  errors <n>  (target <req/s>)
    pgbench -N       : <tps>
    workers=N        : creation/pgbench = <ratio> (target >= 0.25); p99 at half rate <ms>
                       (target < 50 ms)

The load generator speaks plain HTTP/1.1 over asyncio streams (uvloop when present) rather than
httpx: on a 2-core machine the client shares the CPUs with the server, and a lean client leaves
more of them to the thing being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
HOST = "127.0.0.1"
AGENCY = "BENCH"
PORTAL_HOST = "portal.example.vn"


# --- databases --------------------------------------------------------------------------------


def dsn_for(name: str) -> str:
    return f"{ADMIN_DSN.rpartition('/')[0]}/{name}"


async def admin_execute(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """A fresh database, dropped on the way out whatever happened."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(admin_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with _ignoring_interrupts():
            asyncio.run(admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    """Let clean-up finish even when Ctrl-C is pressed again."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


async def _seed(url: str) -> str:
    from payments.adapters.db.engine import make_engine  # noqa: PLC0415
    from payments.domain.access import Role  # noqa: PLC0415
    from payments.services.access import create_agency, create_api_key  # noqa: PLC0415
    from payments.unit_of_work import SqlUnitOfWorkFactory  # noqa: PLC0415

    engine = make_engine(url)
    try:
        uow = SqlUnitOfWorkFactory(engine)
        now = datetime.now(UTC)
        await create_agency(
            uow,
            code=AGENCY,
            name="Bench agency",
            allowed_hosts=[PORTAL_HOST],
            actor="bench",
            now=now,
        )
        _, key = await create_api_key(
            uow, agency_code=AGENCY, role=Role.PORTAL, label="bench", actor="bench", now=now
        )
    finally:
        await engine.dispose()
    return key


def prepare_gateway_database(name: str) -> str:
    """Migrate and seed; return the portal API key."""
    from payments.adapters.db.migrations import upgrade_to_head  # noqa: PLC0415

    url = dsn_for(name)
    upgrade_to_head(url)
    return asyncio.run(_seed(url.replace("postgresql://", "postgresql+asyncpg://")))


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        if (
            int(fields[2]) == pgid
        ):  # after "(comm)": state, ppid, pgrp, ...; utime and stime are 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / ticks


@dataclass
class Server:
    port: int
    pgid: int


# The server runs as in production (not sandbox mode), which refuses to start without
# real-looking provider settings; nothing here talks to a provider.
BENCH_PROVIDERS = {
    "PAYMENTS_VNPAY_TMN_CODE": "BENCHTMN",
    "PAYMENTS_VNPAY_HASH_SECRET": "bench-vnpay-hash-secret-0123456789",
    "PAYMENTS_VNPAY_PAY_URL": "https://vnpay.bench.invalid/paymentv2/vpcpay.html",
    "PAYMENTS_VNPAY_API_URL": "https://vnpay.bench.invalid/merchant_webapi/api/transaction",
    "PAYMENTS_MOMO_PARTNER_CODE": "BENCHMOMO",
    "PAYMENTS_MOMO_ACCESS_KEY": "bench-momo-access-key",
    "PAYMENTS_MOMO_SECRET_KEY": "bench-momo-secret-key-0123456789",
    "PAYMENTS_MOMO_API_URL": "https://momo.bench.invalid",
    "PAYMENTS_VIETQR_BANK_BIN": "970415",
    "PAYMENTS_VIETQR_ACCOUNT_NO": "113366668888",
    "PAYMENTS_VIETQR_ACCOUNT_NAME": "KBNN BENCH",
    "PAYMENTS_VIETQR_WEBHOOK_SECRET": "bench-vietqr-webhook-secret-0123",
    "PAYMENTS_SESSION_SECRET": "bench-console-session-secret-0123456789",
}


@contextlib.contextmanager
def gateway(database: str, workers: int) -> Iterator[Server]:
    """``payments serve``, as a subprocess in its own process group."""
    port = _free_port()
    env = {
        **os.environ,
        **BENCH_PROVIDERS,
        "PAYMENTS_DATABASE_URL": dsn_for(database),
        "PAYMENTS_LOG_LEVEL": "warning",
        "PAYMENTS_BASE_URL": f"http://{HOST}:{port}",
        # Far above any rate reached here: the limiter runs (and is measured) but never refuses.
        "PAYMENTS_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "payments.entrypoints.app:app_from_env",
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        _wait_ready(port, server)
        yield Server(port, server.pid)
    finally:
        with _ignoring_interrupts():
            _stop(server)


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)


def _wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the gateway exited with {server.returncode} before it was ready")
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                sock.sendall(f"GET /readyz HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the gateway did not become ready in time")


# --- the load generator (runs in its own process: ``--load-generator``) ------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for this benchmark."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> int:
        head = [f"POST {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class PaymentRequests:
    """A new reference and Idempotency-Key for every request."""

    def __init__(self, api_key: str) -> None:
        self.auth = f"Bearer {api_key}"
        self.run = uuid.uuid4().hex[:8]
        self.count = 0

    def next(self) -> tuple[dict[str, str], bytes]:
        self.count += 1
        body = {
            "reference": f"B-{self.run}-{self.count}",
            "kind": "fee",
            "amount": 150_000,
            "currency": "VND",
            "description": "Lệ phí cấp hộ chiếu",
            "payer": {"name": "Nguyễn Văn A", "id_number": "001099012345"},
            "budget": {
                "treasury_account": "7111",
                "treasury_code": "0011",
                "collecting_agency": "1054321",
                "chapter": "755",
                "sub_item": "2662",
            },
            "return_url": f"https://{PORTAL_HOST}/return",
        }
        headers = {
            "Authorization": self.auth,
            "Idempotency-Key": f"{self.run}-{self.count}",
            "Content-Type": "application/json",
        }
        return headers, json.dumps(body, ensure_ascii=False).encode()


@dataclass
class Outcome:
    latencies: list[float]
    errors: int
    elapsed: float

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "errors": self.errors,
            "elapsed": self.elapsed,
            "throughput": len(ordered) / self.elapsed if self.elapsed else 0.0,
            "p50_ms": _percentile(ordered, 0.50) * 1000,
            "p99_ms": _percentile(ordered, 0.99) * 1000,
            "mean_ms": statistics.fmean(ordered) * 1000 if ordered else 0.0,
        }


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _one(connection: Connection, requests: PaymentRequests) -> bool:
    headers, body = requests.next()
    try:
        return await connection.post("/v1/payments", headers, body) == 201
    except (OSError, asyncio.IncompleteReadError, ValueError):
        return False


async def closed_loop(port: int, api_key: str, connections: int, duration: float) -> Outcome:
    """Every connection sends its next request as soon as the last one is answered."""
    requests = PaymentRequests(api_key)
    pool = [await Connection.open(port) for _ in range(connections)]
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + duration

    async def drive(connection: Connection) -> None:
        nonlocal errors
        while (now := time.perf_counter()) < deadline:
            ok = await _one(connection, requests)
            latencies.append(time.perf_counter() - now)
            errors += not ok

    await asyncio.gather(*(drive(c) for c in pool))
    elapsed = time.perf_counter() - started
    for connection in pool:
        await connection.close()
    return Outcome(latencies, errors, elapsed)


async def open_loop(port: int, api_key: str, rate: float, duration: float) -> Outcome:
    """Requests arrive on a fixed schedule whatever the server does (no coordinated omission)."""
    requests = PaymentRequests(api_key)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(16):
        idle.put_nowait(await Connection.open(port))
    opened = 16
    latencies: list[float] = []
    errors = 0
    tasks: set[asyncio.Task[None]] = set()

    async def arrive(scheduled: float) -> None:
        nonlocal errors, opened
        if idle.empty() and opened < 256:
            opened += 1
            idle.put_nowait(await Connection.open(port))
        connection = await idle.get()
        ok = await _one(connection, requests)
        latencies.append(time.perf_counter() - scheduled)
        errors += not ok
        idle.put_nowait(connection)

    interval = 1.0 / rate
    started = time.perf_counter()
    total = int(rate * duration)
    for index in range(total):
        scheduled = started + index * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(arrive(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    while not idle.empty():
        await idle.get_nowait().close()
    return Outcome(latencies, errors, elapsed)


def load_generator_main(args: argparse.Namespace) -> None:
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415

        uvloop.install()
    if args.rate:
        outcome = asyncio.run(open_loop(args.port, args.api_key, args.rate, args.duration))
    else:
        outcome = asyncio.run(closed_loop(args.port, args.api_key, args.connections, args.duration))
    print(json.dumps(outcome.summary()))


def run_load(
    port: int, api_key: str, duration: float, *, connections: int = 0, rate: float = 0.0
) -> dict[str, Any]:
    """Run the load generator in its own process and return its summary."""
    command = [
        sys.executable,
        "-m",
        "bench.payments_create",
        "--load-generator",
        "--port",
        str(port),
        "--api-key",
        api_key,
        "--duration",
        str(duration),
        "--connections",
        str(connections),
        "--rate",
        str(rate),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True) as load:
        try:
            out, _ = load.communicate(timeout=duration + 60)
        finally:
            if load.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(load.pid, signal.SIGKILL)
                load.wait()
    if load.returncode != 0:
        raise RuntimeError(f"the load generator failed with {load.returncode}")
    summary: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return summary


# --- pgbench ----------------------------------------------------------------------------------


def pgbench_tps(duration: int) -> float:
    host, port = "127.0.0.1", "5432"
    common = ["-h", host, "-p", port, "-U", "postgres"]
    with throwaway_database("bench_pgbench") as name:
        subprocess.run(["pgbench", "-i", "-q", *common, name], check=True, capture_output=True)
        done = subprocess.run(
            ["pgbench", "-N", "-c", "8", "-j", "2", "-T", str(duration), *common, name],
            check=True,
            capture_output=True,
            text=True,
        )
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    if found is None:
        raise RuntimeError(f"no tps in pgbench output:\n{done.stdout}")
    return float(found.group(1))


# --- the run ----------------------------------------------------------------------------------


def _line(label: str, result: dict[str, Any], extra: str = "") -> str:
    return (
        f"{label:<17}: {result['throughput']:7.1f} req/s  p50 {result['p50_ms']:6.1f} ms  "
        f"p99 {result['p99_ms']:6.1f} ms  errors {result['errors']}  {extra}"
    )


def benchmark(args: argparse.Namespace) -> None:
    results: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    with throwaway_database("bench_payments") as database:
        api_key = prepare_gateway_database(database)
        for workers in args.workers:
            with gateway(database, workers) as server:
                port = server.port
                run_load(port, api_key, 2, connections=args.connections)  # warm-up
                cpu_before = group_cpu_seconds(server.pgid)
                full = run_load(port, api_key, args.duration, connections=args.connections)
                cpu_ms = (group_cpu_seconds(server.pgid) - cpu_before) * 1000
                per_request = cpu_ms / max(1, full["requests"])
                print(
                    _line(
                        f"workers={workers} full",
                        full,
                        f"({full['requests']} requests; server CPU {per_request:.2f} ms/request)",
                    )
                )
                half_rate = max(1.0, full["throughput"] / 2)
                half = run_load(port, api_key, args.duration, rate=half_rate)
                print(_line(f"workers={workers} half", half, f"(target {half_rate:.1f} req/s)"))
                results[workers] = (full, half)
    tps = pgbench_tps(int(args.duration))
    print(f"{'pgbench -N':<17}: {tps:7.1f} tps  (-c 8 -j 2 -T {int(args.duration)})")
    for workers, (full, half) in results.items():
        ratio = full["throughput"] / tps
        verdict = "ok" if ratio >= 0.25 and half["p99_ms"] < 50 else "MISSED"
        print(
            f"{f'workers={workers}':<17}: creation/pgbench = {ratio:.2f} (target >= 0.25); "
            f"p99 at half rate {half['p99_ms']:.1f} ms (target < 50 ms)  {verdict}"
        )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument(
        "--workers",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 2],
        help="comma-separated worker counts to measure (default 1,2)",
    )
    parser.add_argument("--connections", type=int, default=32, help="closed-loop connections")
    parser.add_argument("--load-generator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--api-key", default="", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_generator:
        load_generator_main(args)
        return
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop servers and drop databases.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        benchmark(args)
    except KeyboardInterrupt:
        print("interrupted; servers stopped and databases dropped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
