"""A minimal HTTP/1.1 keep-alive client: the load generator must cost little CPU next to the services
it measures (httpx costs about a millisecond per request, as much as a service's own work)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping


class HttpError(Exception):
    pass


class Connection:
    def __init__(self, host: str, port: int, headers: Mapping[str, str] | None = None) -> None:
        self._host = host
        self._port = port
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return self._reader, self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(self, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n{self._headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()
        for attempt in (1, 2):  # a kept-alive connection the server closed is opened again once
            reader, writer = await self._open()
            try:
                writer.write(head + payload)
                await writer.drain()
                status_line = await reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed by the server")
                status = int(status_line.split(b" ", 2)[1])
                length = 0
                keep = True
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.partition(b":")
                    lowered = name.strip().lower()
                    if lowered == b"content-length":
                        length = int(value.strip())
                    elif lowered == b"connection" and value.strip().lower() == b"close":
                        keep = False
                data = await reader.readexactly(length) if length else b""
                if not keep:
                    self.close()
                return status, data
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        raise HttpError("unreachable")


class Pool:
    """``size`` keep-alive connections to each of ``ports`` (round robin over replicas); every request
    carries ``headers`` (the bearer token)."""

    def __init__(
        self, ports: list[int], size: int, host: str = "127.0.0.1", headers: Mapping[str, str] | None = None
    ) -> None:
        self._free: asyncio.Queue[Connection] = asyncio.Queue()
        for i in range(size):
            self._free.put_nowait(Connection(host, ports[i % len(ports)], headers))
        self._all = size

    async def request(self, method: str, path: str, body: object | None = None) -> tuple[int, bytes]:
        conn = await self._free.get()
        try:
            return await conn.request(method, path, body)
        finally:
            self._free.put_nowait(conn)

    def close(self) -> None:
        while not self._free.empty():
            with contextlib.suppress(Exception):
                self._free.get_nowait().close()
