"""The one HTTP port of a consumer process: ``/metrics``, ``/healthz`` and ``/readyz``.

A deliberately tiny HTTP/1.1 server on ``asyncio.start_server``: it runs in the same
event loop as the pipelines (so it reads their state without locks), answers GET and
HEAD, one request per connection, and needs no web framework. ``/healthz`` and
``/readyz`` answer 200 or 503 with a JSON body that says which sink is the problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from consumer.config import ConfigurationError
from consumer.health import Health
from consumer.settings import MetricsSettings

log = structlog.get_logger("runledger.http")

_READ_TIMEOUT_SECONDS = 10.0
_MAX_HEADER_LINES = 100
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}

Response = tuple[int, str, bytes]


class ObservabilityServer:
    """Serves the metrics registry and the health of the pipelines."""

    def __init__(self, registry: CollectorRegistry, health: Health, host: str, port: int) -> None:
        self._registry = registry
        self._health = health
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        """Listen; returns the bound port (useful when asked for port 0 in tests)."""
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._clients):  # an idle client must not hold up shutdown
                writer.close()
            await self._server.wait_closed()

    def respond(self, method: str, path: str, accept: str = "") -> Response:
        """The response to one request (no I/O: testable without a socket)."""
        if path not in ("/metrics", "/healthz", "/readyz"):
            return _json(
                404,
                {"error": f"no such path: {path}", "paths": ["/metrics", "/healthz", "/readyz"]},
            )
        if method not in ("GET", "HEAD"):
            return _json(405, {"error": f"method {method} not allowed"})
        if path == "/metrics":
            encoder, content_type = choose_encoder(accept)
            return 200, content_type, encoder(self._registry)
        ok, body = self._health.liveness() if path == "/healthz" else self._health.readiness()
        return _json(200 if ok else 503, body)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            async with asyncio.timeout(_READ_TIMEOUT_SECONDS):
                method, path, accept = await _read_request(reader)
            status, content_type, body = self.respond(method, path, accept)
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
                f"Content-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError, UnicodeDecodeError):
            pass  # a client that sends garbage or goes away gets nothing
        finally:
            self._clients.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, str]:
    """Method, path (without query) and Accept header of one request; ValueError if malformed."""
    method, target, _version = (await reader.readline()).decode("latin-1").split()
    accept = ""
    for _ in range(_MAX_HEADER_LINES):
        line = (await reader.readline()).decode("latin-1").strip()
        if not line:
            return method.upper(), target.split("?", 1)[0], accept
        name, _, value = line.partition(":")
        if name.strip().lower() == "accept":
            accept = value.strip()
    raise ValueError("too many header lines")


def _json(status: int, body: dict[str, Any]) -> Response:
    return status, "application/json", json.dumps(body, sort_keys=True).encode() + b"\n"


@contextlib.asynccontextmanager
async def serving(
    settings: MetricsSettings, registry: CollectorRegistry, health: Health
) -> AsyncIterator[int | None]:
    """Serve the endpoint for the duration of the block; port 0 in settings disables it."""
    if settings.port == 0:
        yield None
        return
    server = ObservabilityServer(registry, health, settings.host, settings.port)
    try:
        port = await server.start()
    except OSError as error:
        raise ConfigurationError(
            f"RUNLEDGER_METRICS__PORT: cannot listen on {settings.host}:{settings.port} "
            f"({error.strerror or error}); choose another port, or 0 to disable the endpoint"
        ) from None
    log.info("serving metrics and health", host=settings.host, port=port,
             paths=["/metrics", "/healthz", "/readyz"])  # fmt: skip
    try:
        yield port
    finally:
        await server.close()
