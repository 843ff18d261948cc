"""The HTTP server of `netc serve`: the page, its assets, and the JSON API (docs/serve.md).

The standard library's ThreadingHTTPServer: one thread per connection, so a slow drawing
never blocks the editor's next request, and no dependency beyond netc's own. Safety:

- binds to 127.0.0.1 unless told otherwise; on a loopback address, requests whose Host (or
  Origin) is not a loopback name are refused, so a web page in the user's browser cannot
  reach the server through DNS rebinding or read its answers;
- POST and PUT take JSON only (a cross-site form cannot send it without a CORS preflight,
  which this server never grants), with a Content-Length of at most `max_body` bytes (413);
- every spec is compiled with netc's limits, at most `MAX_CONCURRENT` at a time, and any
  failure is answered as JSON: a bad spec never stops the server.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from netc.serve.admission import SMALL_TEXT_BYTES, Admission, Busy
from netc.serve.engine import ApiError, Engine, Spec, onnx_available, spec_of
from netc.serve.workspace import Workspace, WorkspaceError

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
MAX_BODY = 8 * 1024 * 1024  # a spec of netc's largest allowed size (4 MiB), JSON-escaped
MAX_CONCURRENT = 4  # compilations at once; more requests queue (netc/serve/admission.py)
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    # everything comes from this server; the drawing is inline SVG (Graphviz writes
    # presentation attributes, no scripts), blobs are the downloads
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
    ),
}


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_HOST_HEADER = re.compile(r"(?:\[([0-9a-f:.]+)\]|([a-z0-9.-]+))(?::([0-9]{1,5}))?")


def _host_name(value: str) -> str | None:
    """`localhost:8000` -> `localhost`, `[::1]:8000` -> `::1`; None unless the whole value is
    a host name or address with an optional port (RFC 9110: no user info, no path)."""
    match = _HOST_HEADER.fullmatch(value.strip().lower())
    if match is None:
        return None
    return match.group(1) or match.group(2)


def load_assets() -> dict[str, tuple[bytes, str]]:
    """The page's files (package data under netc/serve/static), read once at start-up."""
    assets: dict[str, tuple[bytes, str]] = {}
    folder = resources.files("netc.serve") / "static"
    for item in folder.iterdir():
        suffix = Path(item.name).suffix
        if item.is_file() and suffix in CONTENT_TYPES:
            assets[item.name] = (item.read_bytes(), CONTENT_TYPES[suffix])
    if "index.html" not in assets:
        raise RuntimeError("netc's page assets are missing (netc/serve/static)")
    return assets


@dataclass
class App:
    """What the handlers share: the files, the engine, the assets, the options."""

    workspace: Workspace
    engine: Engine = field(default_factory=Engine)
    initial: tuple[str, str] | None = None  # (root, path) opened first
    check_host: bool = True
    max_body: int = MAX_BODY
    log: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr))
    assets: dict[str, tuple[bytes, str]] = field(default_factory=load_assets)
    admission: Admission = field(default_factory=lambda: Admission(slots=MAX_CONCURRENT))


class Handler(BaseHTTPRequestHandler):
    server_version = "netc-serve"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a connection may idle or trickle before it is dropped
    app: App  # set on the subclass made by make_server
    _consumed = False

    # ---- plumbing ---------------------------------------------------------------------

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the errors that matter

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        # ASCII escapes: a spec's lone surrogates (it is user text) stay valid JSON
        body = json.dumps(payload, separators=(",", ":")).encode("ascii")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _error(self, error: ApiError) -> None:
        unread = self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length", "0")
        if not self._consumed and unread not in ("", "0"):
            self.close_connection = True  # its unread body must not be taken for a request
        headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s else None
        self._json(error.status, error.to_json(), headers)

    def _query(self) -> dict[str, str]:
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        return {k: v[-1] for k, v in query.items()}

    def _guard(self) -> None:
        """Refuse requests that did not come from a page of this server (see module doc)."""
        if not self.app.check_host:
            return
        host = self.headers.get("Host", "")
        # browsers always send Host; a client without one is a local tool, not a web page
        name = _host_name(host) if host else ""
        if name is None:
            raise ApiError(400, f"malformed Host header {host[:80]!r}")
        if host and not is_loopback(name):
            raise ApiError(
                403,
                f"host {host!r} refused: netc serve answers loopback names only",
                "open http://127.0.0.1:PORT/, or start netc serve with --host",
            )
        origin = self.headers.get("Origin")
        if origin:  # "null" too: sandboxed frames and file:// pages are not this server's page
            origin_host = urlsplit(origin).hostname or ""
            if not is_loopback(origin_host):
                raise ApiError(403, f"origin {origin!r} refused", "use the page netc serves")

    def _body(self) -> dict[str, Any]:
        """The request's JSON object (411, 413, 415, 400 otherwise)."""
        length_text = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise ApiError(411, "chunked bodies are not accepted; send a Content-Length")
        if length_text is None:
            self.close_connection = True
            raise ApiError(411, "a Content-Length is required")
        try:
            length = int(length_text)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "bad Content-Length") from None
        if length < 0:
            self.close_connection = True
            raise ApiError(400, "bad Content-Length")
        if length > self.app.max_body:
            self.close_connection = True  # the unread body must not be parsed as a request
            if length <= 8 * self.app.max_body:
                self._drain(length)  # so that the client, still sending, reads the answer
            raise ApiError(
                413,
                f"request body of {length:,} bytes is over the limit of {self.app.max_body:,}",
                "netc reads specs of at most 4 MiB",
            )
        data = self.rfile.read(length)
        self._consumed = True
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError(415, "send the request body as application/json")
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ApiError(400, "the request body is not valid JSON (UTF-8)") from None
        if not isinstance(value, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return value

    def _drain(self, length: int) -> None:
        self._consumed = True
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                return
            remaining -= len(chunk)

    def _dispatch(self, routes: dict[str, Callable[[], None]]) -> None:
        route = urlsplit(self.path).path
        self._consumed = False  # whether this request's body has been read
        try:
            self._guard()
            action = routes.get(route)
            if action is None:
                if route.startswith("/static/") and self.command in ("GET", "HEAD"):
                    self._static(route.removeprefix("/static/"))
                    return
                raise ApiError(404, f"no such endpoint: {self.command} {route}")
            action()
        except ApiError as error:
            self._error(error)
        except WorkspaceError as error:
            self._error(ApiError(error.status, error.message, error.hint))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in netc: answer it, log it, keep serving
            self.app.log(f"netc serve: internal error on {self.command} {route}: {exc!r}")
            self._error(
                ApiError(
                    500,
                    f"internal error: {type(exc).__name__}: {exc}",
                    "this is a bug in netc; please report it with the spec that caused it",
                )
            )

    # ---- methods ----------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch(
            {
                "/": self._index,
                "/index.html": self._index,
                "/api/info": self._info,
                "/api/files": self._files,
                "/api/file": self._get_file,
            }
        )

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self._dispatch(
            {
                "/api/analyze": self._analyze,
                "/api/render": self._render,
                "/api/build": self._build,
            }
        )

    def do_PUT(self) -> None:
        self._dispatch({"/api/file": self._put_file})

    def do_OPTIONS(self) -> None:
        # no CORS: a preflight gets no Access-Control-Allow-* headers, so browsers refuse
        self._dispatch({})

    def do_DELETE(self) -> None:
        self._dispatch({})

    # ---- the page ---------------------------------------------------------------------

    def _index(self) -> None:
        self._static("index.html")

    def _static(self, name: str) -> None:
        asset = self.app.assets.get(name)
        if asset is None:
            raise ApiError(404, f"no such file: /static/{name}")
        self._send(200, asset[0], asset[1])

    # ---- files ------------------------------------------------------------------------

    def _info(self) -> None:
        from netc import __version__
        from netc.render.graphviz import find_backend

        ws = self.app.workspace
        self._json(
            200,
            {
                "netc": __version__,
                "folder": str(ws.folder),
                "roots": {k: {"writable": r.writable} for k, r in ws.roots.items()},
                "initial": (
                    {"root": self.app.initial[0], "path": self.app.initial[1]}
                    if self.app.initial
                    else None
                ),
                "graphviz": find_backend() is not None,
                "onnx": onnx_available(),
                "max_body": self.app.max_body,
            },
        )

    def _files(self) -> None:
        files, truncated = self.app.workspace.listing()
        self._json(
            200,
            {
                "files": [{"root": f.root, "path": f.path, "size": f.size} for f in files],
                "truncated": truncated,
            },
        )

    def _location(self, query: dict[str, str]) -> tuple[str, str]:
        path = query.get("path")
        if not path:
            raise ApiError(400, "path: a file path relative to the served folder is required")
        return query.get("root", "folder"), path

    def _get_file(self) -> None:
        root, path = self._location(self._query())
        loaded = self.app.workspace.read(root, path)
        self._json(
            200,
            {
                "root": loaded.root,
                "path": loaded.path,
                "text": loaded.text,
                "etag": loaded.etag,
                "writable": loaded.writable,
            },
            {"ETag": f'"{loaded.etag}"'},
        )

    def _put_file(self) -> None:
        root, path = self._location(self._query())
        body = self._body()
        text = body.get("text")
        if not isinstance(text, str):
            raise ApiError(400, "text: the file's new text is required (a string)")
        etag = body.get("etag")
        if_match = self.headers.get("If-Match")
        if etag is None and if_match and if_match != "*":
            etag = if_match.strip().strip('"')
        if etag is not None and not isinstance(etag, str):
            raise ApiError(400, "etag: expected the string /api/file returned, or null")
        if len(text.encode("utf-8", "surrogatepass")) > self.app.engine.limits.max_source_bytes:
            raise ApiError(413, "the text is over netc's size limit for a spec")
        new = self.app.workspace.write(root, path, text, etag)
        self._json(200, {"ok": True, "root": root, "path": path, "etag": new}, {"ETag": f'"{new}"'})

    # ---- the compiler -----------------------------------------------------------------

    def _spec_and_body(self) -> tuple[Spec, dict[str, Any]]:
        body = self._body()
        ws = self.app.workspace
        name, folder, boundary = "<spec>", ws.folder, ws.folder
        path = body.get("path")
        if path is not None:
            # a file of the workspace: diagnostics carry its name, imports resolve beside it
            if not isinstance(path, str):
                raise ApiError(400, "path: expected a string")
            root = body.get("root", "folder")
            if not isinstance(root, str):
                raise ApiError(400, "root: expected a string")
            real = ws.resolve(root, path, must_exist=False)
            name, folder, boundary = path, real.parent, ws.roots[root].path
        return spec_of(body, name, folder, boundary), body

    def _compute(self, spec: Spec, work: Callable[[], None]) -> None:
        small = len(spec.text) <= SMALL_TEXT_BYTES
        try:
            with self.app.admission.slot(small):
                work()
        except Busy as busy:
            raise ApiError(
                503,
                f"the server is busy ({busy.reason}); try again",
                retry_after_s=busy.retry_after_s,
            ) from None
        except (RecursionError, MemoryError) as exc:
            raise ApiError(
                422, f"input too large or too deeply nested ({type(exc).__name__})"
            ) from None

    def _analyze(self) -> None:
        spec, body = self._spec_and_body()
        self._compute(spec, lambda: self._json(200, self.app.engine.analyze(spec, body)))

    def _render(self) -> None:
        spec, body = self._spec_and_body()
        self._compute(spec, lambda: self._json(200, self.app.engine.render(spec, body)))

    def _build(self) -> None:
        target = self._query().get("target", "torch")
        spec, _ = self._spec_and_body()

        def work() -> None:
            data, content_type, filename = self.app.engine.build(spec, target)
            self._send(
                200,
                data,
                content_type,
                {"Content-Disposition": f'attachment; filename="{_ascii_name(filename)}"'},
            )

        self._compute(spec, work)


def _ascii_name(name: str) -> str:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return safe or "network"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the listen backlog: 5 dropped connections at 50 clients

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        handler = type("BoundHandler", (Handler,), {"app": app})
        if ":" in address[0]:
            import socket

            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        shown = f"[{host}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that went away mid-answer is not worth a traceback on the console
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        self.app.log(f"netc serve: error serving {client_address}: {exc!r}")


def make_server(
    workspace: Workspace,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    initial: tuple[str, str] | None = None,
    engine: Engine | None = None,
    log: Callable[[str], None] | None = None,
) -> Server:
    """A server bound to (host, port) (port 0: any free port); call serve_forever()."""
    app = App(
        workspace=workspace,
        engine=engine or Engine(),
        initial=initial,
        check_host=is_loopback(host),
    )
    if log is not None:
        app.log = log
    return Server((host, port), app)


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "Server", "is_loopback", "make_server"]
