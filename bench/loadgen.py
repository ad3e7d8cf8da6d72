"""A small closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending its next
request as soon as the previous answer has arrived, for a fixed time.

    python bench/loadgen.py --url http://127.0.0.1:8000 --requests requests.jsonl \\
        --connections 32 --duration 15

``requests.jsonl`` holds one request a line: ``{"method", "path", "headers", "body"}``; the
connections take them in turn, round robin. ``{seq}`` anywhere in a path, header or body is
replaced by a number unique across runs, counted from the start time in µs (idempotency keys,
external references), so a measured run never replays its warm-up's requests; ``{rnokpp}``
by a valid RNOKPP made from the same number (new people to register). Prints
one JSON object: counts by status, requests/s, latency percentiles, its own CPU time; per
status also when its first and last answers came (seconds from the start) and its own
latencies, so a run whose answers change (201s until funds run out, then 409s) shows each
phase; and the statuses of the answers that came after the measured window (the requests
sent within it that the server still answered, and acted on).

It is deliberately minimal (an asyncio protocol on uvloop, no HTTP library) so it takes as
little of the shared CPUs as possible from the server it measures: about 25 µs a request.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from array import array
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

_HEADER_END = b"\r\n\r\n"


#: The weights of an RNOKPP's check digit (``registry.domain.shared.identifiers``).
_RNOKPP_WEIGHTS = (-1, 5, 7, 9, 4, 6, 10, 5, 7)


def rnokpp_of(n: int) -> str:
    """A valid RNOKPP made from ``n``: one that names no birth date (it starts with 8), the
    last eight digits of ``n``, the check digit. Consecutive numbers differ, and a run's
    ``{seq}`` starts at its start time in microseconds, so two runs' numbers meet only if
    they start within a run's request count of microseconds of each other modulo 100 s."""
    first_nine = f"8{n % 10**8:08d}"
    total = sum(w * int(d) for w, d in zip(_RNOKPP_WEIGHTS, first_nine, strict=True))
    return first_nine + str(total % 11 % 10)


class Request:
    """A request template: raw bytes, or a text template when it contains ``{seq}`` (or
    ``{rnokpp}``, a valid RNOKPP made from the same number)."""

    def __init__(self, spec: dict[str, Any], host: str) -> None:
        body = spec.get("body")
        if body is not None and not isinstance(body, str):
            body = json.dumps(body, ensure_ascii=False)
        headers = {
            "Host": host,
            "User-Agent": "registry-bench",
            "Accept": "application/json",
            **spec.get("headers", {}),
        }
        head = f"{spec.get('method', 'GET')} {spec['path']} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        self.templated = any(
            token in head or (body is not None and token in body) for token in ("{seq}", "{rnokpp}")
        )
        self.head, self.body = head, body
        self.raw = b"" if self.templated else self._render(head, body)

    def bytes(self, seq: itertools.count[int]) -> bytes:
        if not self.templated:
            return self.raw
        number = next(seq)
        n, rnokpp = str(number), rnokpp_of(number)

        def fill(text: str) -> str:
            return text.replace("{seq}", n).replace("{rnokpp}", rnokpp)

        return self._render(fill(self.head), None if self.body is None else fill(self.body))

    @staticmethod
    def _render(head: str, body: str | None) -> bytes:
        if body is None:
            return (head + "\r\n").encode()
        payload = body.encode()
        return (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload


class Connection(asyncio.Protocol):
    """One keep-alive connection; ``send`` returns (status, body size) of the answer."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, int]] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the server closed the connection"))

    def send(self, data: bytes) -> asyncio.Future[tuple[int, int]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answer = self._parse()
        if answer is not None and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(answer)

    def _parse(self) -> tuple[int, int] | None:
        """A complete answer at the start of the buffer (removed from it), else None."""
        end = self.buffer.find(_HEADER_END)
        if end < 0:
            return None
        head = bytes(self.buffer[:end]).lower()
        status = int(head[9:12])
        start = end + 4
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : line_end if line_end > 0 else len(head)])
            if len(self.buffer) < start + length:
                return None
            del self.buffer[: start + length]
            return status, length
        if b"\r\ntransfer-encoding: chunked" in head:
            return self._parse_chunked(status, start)
        del self.buffer[:start]  # no body (204, 304)
        return status, 0

    def _parse_chunked(self, status: int, position: int) -> tuple[int, int] | None:
        size_total = 0
        while True:
            line_end = self.buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(self.buffer[position:line_end]).split(b";")[0], 16)
            position = line_end + 2
            if size == 0:
                if self.buffer.find(b"\r\n", position) != position:
                    return None  # trailers are not expected; wait for the final CRLF
                del self.buffer[: position + 2]
                return status, size_total
            if len(self.buffer) < position + size + 2:
                return None
            size_total += size
            position += size + 2


async def run(
    url: str, requests: list[Request], *, connections: int, duration: float, request_timeout: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    # Numbered from the start time in microseconds: unique across runs too, so a measured run
    # never replays its warm-up's idempotency keys.
    seq = itertools.count(time.time_ns() // 1000)
    turn = itertools.count()
    statuses: Counter[int] = Counter()
    late_statuses: Counter[int] = Counter()
    failures: Counter[str] = Counter()
    latencies = array("d")
    by_status: dict[int, array[float]] = {}
    first_answer: dict[int, float] = {}
    last_answer: dict[int, float] = {}
    body_bytes = 0
    started = time.perf_counter()
    deadline = started + duration

    async def client() -> None:
        nonlocal body_bytes
        connection: Connection | None = None
        while time.perf_counter() < deadline:
            if connection is None or connection.closed:
                try:
                    _, connection = await loop.create_connection(Connection, host, port)
                except OSError as error:
                    failures[type(error).__name__] += 1
                    await asyncio.sleep(0.05)
                    continue
            request = requests[next(turn) % len(requests)]
            sent = time.perf_counter()
            waiter = connection.send(request.bytes(seq))
            expiry = loop.call_later(request_timeout, _expire, waiter)
            try:
                status, size = await waiter
            except (ConnectionError, TimeoutError) as error:
                failures[type(error).__name__] += 1
                connection.transport.close()  # type: ignore[union-attr]
                connection = None
                continue
            finally:
                expiry.cancel()
            answered = time.perf_counter()
            if answered > deadline:
                late_statuses[status] += 1
                continue
            statuses[status] += 1
            latencies.append(answered - sent)
            by_status.setdefault(status, array("d")).append(answered - sent)
            first_answer.setdefault(status, answered - started)
            last_answer[status] = answered - started
            body_bytes += size
        if connection is not None and connection.transport is not None:
            connection.transport.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    ordered = sorted(latencies)
    completed = len(ordered)
    errors = sum(count for status, count in statuses.items() if not 200 <= status < 300)
    return {
        "duration_s": duration,
        "connections": connections,
        "completed": completed,
        "completed_after_deadline": sum(late_statuses.values()),
        "rps": round(completed / duration, 1),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "statuses_after_deadline": {
            str(status): count for status, count in sorted(late_statuses.items())
        },
        "by_status": {
            str(status): {
                "count": len(times),
                "first_s": round(first_answer[status], 3),
                "last_s": round(last_answer[status], 3),
                "latency_ms": _latency_ms(sorted(times)),
            }
            for status, times in sorted(by_status.items())
        },
        "errors": errors + sum(failures.values()),
        "failures": dict(failures),
        "latency_ms": _latency_ms(ordered),
        "mean_body_bytes": round(body_bytes / completed) if completed else None,
        "client_cpu_s": round(time.process_time(), 2),
    }


def _expire(waiter: asyncio.Future[tuple[int, int]]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no answer in time"))


def _latency_ms(ordered: list[float]) -> dict[str, float | None]:
    """Mean, p50, p90, p99 and max of latencies in seconds, sorted, as milliseconds."""
    if not ordered:
        return dict.fromkeys(("mean", "p50", "p90", "p99", "max"))
    return {
        "mean": round(sum(ordered) / len(ordered) * 1000, 2),
        **{f"p{q}": round(_percentile(ordered, q) * 1000, 2) for q in (50, 90, 99)},
        "max": round(ordered[-1] * 1000, 2),
    }


def _percentile(ordered: list[float], q: int) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="http://host:port")
    parser.add_argument("--requests", required=True, help="JSON lines, one request each")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request")
    args = parser.parse_args()
    host = urlsplit(args.url).netloc
    with open(args.requests, encoding="utf-8") as lines:
        requests = [Request(json.loads(line), host) for line in lines if line.strip()]
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    result = runner(
        run(
            args.url,
            requests,
            connections=args.connections,
            duration=args.duration,
            request_timeout=args.timeout,
        )
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
