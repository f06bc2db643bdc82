"""The twin's HTTP/1.1 servers: sockets in, ``LocalGateway.handle`` (or the Invoke API) out.

``FramedRequestHandler`` is the framing both servers share, hardened against what a client may
send: a body by ``Content-Length`` (ASCII digits, one value) or ``Transfer-Encoding: chunked``
(nothing else, and never both), 413 over Lambda's payload limit as soon as that is known, 400 for
framing that cannot be read (a body that ends before its Content-Length included), 431 for a request
line and headers over ``max_header_bytes`` (414 for the request line alone), each closing the
connection with a lingering close so the answer arrives; any failure of the twin itself is answered
500, never a dropped connection. Every answer the twin writes itself (these, http.server's own
errors, the busy answer) is JSON with ``X-Content-Type-Options: nosniff``. What one client may hold
is bounded (``limits.ServerLimits``): idle, header and read timeouts on every connection (a body
still arriving at its read deadline is answered 408 and closed), and the connections each server
and each source address may hold (``connections.ConnectionSlots``: a waiting connection gives way
to a new one; when none can, the new one is answered 503, or the Invoke API's 429, at once).
``ApiRequestHandler`` translates each request into one ``gateway.handle`` call and writes its
``ProxyResponse``.
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from litelens.functions.common.errors import E_BAD_REQUEST, E_HEADERS_TOO_LARGE, E_PAYLOAD_TOO_LARGE, error_payload
from litelens.infra.local.connections import ConnectionEvicted, ConnectionSlots, Slot
from litelens.infra.local.container import PAYLOAD_LIMIT_BYTES, json_bytes
from litelens.infra.local.gateway import NOSNIFF, LocalGateway
from litelens.infra.local.limits import DeadlineReader, HeadersTooLarge, HeadReader, ServerLimits
from litelens.infra.local.twin_log import log

_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
# After refusing a request, how long and how much of the client's remaining input to read and drop.
LINGER_SECONDS = 1.0
LINGER_MAX_BYTES = 1 << 20
# RFC 9110 5.6.2: what a method may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
_DIGITS = re.compile(r"[0-9]+")
# A Content-Length with more significant digits is over any limit (and int() refuses over 4300).
_MAX_LENGTH_DIGITS = 16


class LocalServer(ThreadingHTTPServer):
    """One listening socket; ``backend`` is what its handler answers from (the gateway, the functions)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[FramedRequestHandler],
        backend: Any,
        limits: ServerLimits | None = None,
    ) -> None:
        self.backend = backend
        self.limits = limits or ServerLimits()
        self.slots = ConnectionSlots(self.limits.max_connections, self.limits.max_client_connections)
        self._connection = threading.local()  # the slot of the connection a handler thread serves
        super().__init__(address, handler)

    def current_slot(self) -> Slot | None:
        slot: Slot | None = getattr(self._connection, "slot", None)
        return slot

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection once ``slots`` admits it (a waiting connection may give way);
        else the handler's busy answer, written from the accepting thread (a few hundred bytes: the
        socket buffer takes them without waiting), and the connection closed."""
        slot, refusal = self.slots.admit(request, str(client_address[0]))
        if slot is None:
            log.warning("%s: refused, %s and answering", client_address[0], refusal)
            with contextlib.suppress(OSError):
                request.settimeout(0.5)
                request.sendall(self.RequestHandlerClass.busy_answer(refusal))  # type: ignore[attr-defined]
            self.shutdown_request(request)
            return
        thread = threading.Thread(target=self._serve, args=(request, client_address, slot), daemon=True)
        try:
            thread.start()
        except BaseException:
            self.slots.release(slot)
            self.shutdown_request(request)
            raise

    def _serve(self, request: Any, client_address: Any, slot: Slot) -> None:
        self._connection.slot = slot
        try:
            self.process_request_thread(request, client_address)
        finally:
            self.slots.release(slot)


class FramedRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 framing shared by both servers: reading a body, answering, refusing, lingering."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write, with Nagle off: small keep-alive answers otherwise wait
    # ~40 ms for delayed ACKs.
    wbufsize = -1
    disable_nagle_algorithm = True
    server: LocalServer
    server_version = "litelens-twin"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def setup(self) -> None:
        super().setup()
        self._reader = DeadlineReader(self.connection, self.server.limits, self.server.current_slot())
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        """One request, its clocks started at its first byte (waiting for it is idle time)."""
        self._reader.start_request()
        try:
            super().handle_one_request()  # closes the connection on a timeout before the body
        except ConnectionEvicted:  # it gave way to a new connection: nothing to answer, no one to answer
            self.close_connection = True

    def parse_request(self) -> bool:
        """http.server's request line and headers, at most ``max_header_bytes`` of them (414, 431)."""
        limit = self.server.limits.max_header_bytes
        if len(self.raw_requestline) > limit:
            self.requestline, self.request_version, self.command = "", "", ""
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, f"request line over {limit} bytes")
            return False
        buffered = self.rfile
        self.rfile = HeadReader(buffered, limit - len(self.raw_requestline))  # type: ignore[assignment]
        try:
            parsed = super().parse_request()
        except HeadersTooLarge:
            self.rfile = buffered
            message = f"request line and headers over {limit} bytes"
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, message)
            return False
        finally:
            self.rfile = buffered
        if parsed and not _TOKEN.fullmatch(self.command):
            self.send_error(HTTPStatus.BAD_REQUEST, "the request method is not an HTTP token")
            return False
        if parsed:
            self._reader.end_headers()
        return parsed

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a bad request line or version, too many headers, an unknown
        method) in the server's JSON error shape, not its HTML page; the connection is closed."""
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        if not str(self.request_version).startswith("HTTP/1."):
            self.request_version = "HTTP/1.1"  # a status line and headers even for a version it cannot read
        text = message or HTTPStatus(code).phrase
        with contextlib.suppress(OSError):
            self._reject(code, f"{text}: {explain}" if explain else text)
        self._linger()

    @classmethod
    def busy_answer(cls, refusal: str) -> bytes:
        """The whole HTTP answer (status line to body) to a connection no slot can be made for."""
        status, headers, body = cls._busy(refusal)
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", *(f"{k}: {v}" for k, v in headers)]
        head += ["Content-Type: application/json", f"{NOSNIFF[0]}: {NOSNIFF[1]}"]
        head += [f"Content-Length: {len(body)}", "Connection: close"]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body

    @classmethod
    def _busy(cls, refusal: str) -> tuple[int, list[tuple[str, str]], bytes]:
        raise NotImplementedError

    def _send(
        self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None, *, passthrough: bool = False
    ) -> None:
        """Write one answer. The twin's own answers get ``nosniff``; ``passthrough`` ones (a function's,
        through the gateway) go as the function wrote them, as API Gateway sends them."""
        if self._reader.slot is not None:
            self._reader.slot.answer()  # raises ConnectionEvicted when the client's slot is gone
        self.send_response(status)
        names = {name.lower() for name, _ in headers or []}
        for name, value in headers or []:
            self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        if not passthrough and NOSNIFF[0].lower() not in names:
            self.send_header(*NOSNIFF)
        if self.close_connection and "connection" not in names:
            self.send_header("Connection", "close")  # tell the client not to reuse the connection
        self.send_header("Content-Length", str(len(body)))
        self.connection.settimeout(self.server.limits.idle_seconds)  # a client that stops reading is dropped
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._status = status

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked), or None after answering: 413 over Lambda's
        payload limit, 400 for a length or chunk framing that cannot be read, 408 for a body still
        arriving at the read deadline or stalled past the idle timeout. Each closes the connection:
        what is left of the body on it cannot be trusted."""
        try:
            body = self._read_framed_body()
        except TimeoutError as exc:
            self.close_connection = True
            message = str(exc) or f"no byte of the request body for {self.server.limits.idle_seconds:g} s"
            log.warning("%s %s %s: %s", self.client_address[0], self.command, self.path, message)
            with contextlib.suppress(OSError):
                self._reject_timeout(message)
            return None
        self._reader.end_request()
        return body

    def _read_framed_body(self) -> bytes | None:
        codings = self.headers.get_all("Transfer-Encoding")
        if codings and self.headers.get_all("Content-Length"):  # RFC 9112 6.1: a smuggling attempt, or a bug
            self._refuse("Transfer-Encoding and Content-Length together: send one of them")
            return None
        if codings:
            if ",".join(codings).strip().lower() != "chunked":  # RFC 9112 6.3: 400 unless chunked is last
                self._refuse(f"Transfer-Encoding {', '.join(codings)!r} is not supported (only chunked)")
                return None
            return self._read_chunked()
        values = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if len(values) > 1:
            self._refuse(f"conflicting Content-Length headers {sorted(values)}")
            return None
        raw = values.pop() if values else "0"
        if not _DIGITS.fullmatch(raw):
            self._refuse(f"Content-Length {raw!r} is not a byte count")
            return None
        digits = raw.lstrip("0") or "0"
        if len(digits) > _MAX_LENGTH_DIGITS:
            self._too_large(None)
            return None
        length = int(digits)
        if length > PAYLOAD_LIMIT_BYTES:
            self._too_large(length)
            return None
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:  # the client closed (or half-closed) its side before the whole body
            self._refuse(f"the request body ended after {len(body)} of its {length} bytes (Content-Length)")
            return None
        return body

    def _read_chunked(self) -> bytes | None:
        """A ``Transfer-Encoding: chunked`` body: hex sizes (extensions ignored), data, CRLF, then a
        zero-size chunk and optional trailers. The payload limit applies as the chunks arrive."""
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not _HEX.fullmatch(size_text):
                self._refuse(f"malformed chunk size line {line[:40]!r}")
                return None
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > PAYLOAD_LIMIT_BYTES:
                self._too_large(total)
                return None
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                self._refuse("chunk data does not match its size")
                return None
            chunks.append(data)
        for _ in range(100):  # trailers (ignored), up to the blank line that ends the message
            line = self.rfile.readline(8192)
            if not line.endswith(b"\n"):  # a cut line would leave its rest on the connection
                self._refuse("trailer line too long, or the body ends before its last blank line")
                return None
            if line in (b"\r\n", b"\n"):
                return b"".join(chunks)
        self._refuse("too many trailer lines")
        return None

    def _refuse(self, message: str) -> None:
        """Answer 400 in the server's own error shape and close the connection."""
        self.close_connection = True
        self._reject_bad_request(message)
        self._linger()

    def _too_large(self, length: int | None) -> None:
        """Answer 413 (``length`` None: too large to say) and close the connection."""
        self.close_connection = True
        self._reject_too_large(length)
        self._linger()

    def _linger(self) -> None:
        """Close our side gracefully and read (and drop) what the client is still sending, briefly.

        Closing a socket with unread input makes the kernel send a reset, which can destroy the
        answer just written before the client reads it; a lingering close lets the 400/413 arrive."""
        if self._reader.slot is not None:
            self._reader.slot.wait_for_client()  # a lingering close holds nothing another client needs
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            deadline = time.monotonic() + LINGER_SECONDS
            drained = 0
            while drained < LINGER_MAX_BYTES and time.monotonic() < deadline:
                data = self.connection.recv(65536)
                if not data:
                    break
                drained += len(data)

    def _reject_too_large(self, length: int | None) -> None:
        raise NotImplementedError

    def _reject(self, status: int, message: str) -> None:
        """Answer a refusal of the request's framing (``status`` 4xx or 5xx) in the server's error shape."""
        raise NotImplementedError

    def _reject_bad_request(self, message: str) -> None:
        self._reject(HTTPStatus.BAD_REQUEST, message)

    def _answer_internal_error(self) -> None:
        raise NotImplementedError

    def _reject_timeout(self, message: str) -> None:
        raise NotImplementedError

    def _handle(self) -> None:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        """Any other method token (TRACE, QUERY, ...) is answered by ``_handle`` too (the API: as API
        Gateway's routing does, 404/405 in the functions' error envelope), not http.server's 501 page."""
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper() and len(name) <= 23:
            return self._handle_safely
        raise AttributeError(name)

    def _handle_safely(self) -> None:
        """``_handle``, with any failure of the twin itself answered (500) and logged, never a dropped
        connection."""
        try:
            self._handle()
        except ConnectionEvicted:
            self.close_connection = True
        except Exception:
            log.exception("%s %s: the twin failed", self.command, self.path)
            self.close_connection = True
            if not getattr(self, "_status", 0):
                with contextlib.suppress(OSError):
                    self._answer_internal_error()


class ApiRequestHandler(FramedRequestHandler):
    """The REST API: each request read off the socket, answered by ``LocalGateway.handle``."""

    def _reject_too_large(self, length: int | None) -> None:
        size = "request body" if length is None else f"request body of {length} bytes"
        message = f"{size} is over the {PAYLOAD_LIMIT_BYTES} byte limit"
        status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        self._send(status, json_bytes(error_payload(status, E_PAYLOAD_TOO_LARGE, message)))

    def _reject(self, status: int, message: str) -> None:
        code = {413: E_PAYLOAD_TOO_LARGE, 414: E_HEADERS_TOO_LARGE, 431: E_HEADERS_TOO_LARGE}.get(status, E_BAD_REQUEST)
        self._send(status, json_bytes(error_payload(status, code, message)))

    def _answer_internal_error(self) -> None:
        self._send(HTTPStatus.INTERNAL_SERVER_ERROR, json_bytes({"message": "Internal server error"}))

    def _reject_timeout(self, message: str) -> None:
        self._send(HTTPStatus.REQUEST_TIMEOUT, json_bytes({"message": f"Request Timeout: {message}"}))

    @classmethod
    def _busy(cls, refusal: str) -> tuple[int, list[tuple[str, str]], bytes]:
        message = f"Service Unavailable: {refusal}"
        return HTTPStatus.SERVICE_UNAVAILABLE, [("Retry-After", "1")], json_bytes({"message": message})

    def _handle(self) -> None:
        gateway: LocalGateway = self.server.backend
        started = time.perf_counter()
        self._status = 0
        function_name = "-"
        try:
            body = self._read_body()
            if body is None:
                return
            url = urlsplit(self.path)
            answer = gateway.handle(
                self.command,
                url.path or "/",
                list(self.headers.items()),
                body,
                query=url.query,
                source_ip=self.client_address[0],
            )
            function_name = answer.function
            self._send(answer.status, answer.body, answer.headers, passthrough=answer.function != "-")
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info('%s "%s %s" %s %.1fms %s', self.client_address[0], self.command, self.path, self._status,
                     elapsed_ms, function_name)  # fmt: skip

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = FramedRequestHandler._handle_safely
