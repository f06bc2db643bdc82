"""The explain page of the local twin: ``GET /`` (the page) and ``GET /page/<asset>`` (its script and
style), served by ``litelens serve`` only (a local tool: the deployed API has no such route).

The page is static, self-contained files in ``infra/local/page/`` (no CDN, no web font: it works
offline); it asks the twin's own ``GET /metadata`` for the form and ``POST /explain`` for the answer,
so it needs nothing from this module but the files and one fact: whether the twin requires an API
key (then the page asks for one; the key itself never appears in the page). ``ExplainPage(...)(method,
path)`` answers a page request as the gateway's ``ProxyResponse``, or None for any other path.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from litelens.infra.local.gateway import ProxyResponse

PAGE_DIR = Path(__file__).resolve().parent / "page"
ASSET_PREFIX = "/page/"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}  # fmt: skip
# Only this origin: no inline script, no remote font, style or script; fetch() to the twin itself.
HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
)


class ExplainPage:
    """The page's files, read once; ``api_key_required``: the page shows an API key field."""

    def __init__(self, api_key_required: bool = False, folder: Path = PAGE_DIR) -> None:
        marker = "required" if api_key_required else "none"
        self.files: dict[str, tuple[str, bytes]] = {}
        for path in sorted(folder.iterdir()):
            if path.suffix in CONTENT_TYPES:
                body = path.read_bytes()
                if path.name == "index.html":
                    body = body.replace(b"{{api_key}}", marker.encode())
                self.files[path.name] = (CONTENT_TYPES[path.suffix], body)
        if "index.html" not in self.files:
            raise FileNotFoundError(f"the explain page is missing from {folder}")

    def __call__(self, method: str, path: str) -> ProxyResponse | None:
        """The answer to a page request (GET or HEAD of ``/`` or ``/page/<asset>``), else None."""
        if method not in ("GET", "HEAD"):
            return None
        if path == "/":
            name = "index.html"
        elif path.startswith(ASSET_PREFIX):
            name = path[len(ASSET_PREFIX) :]
        else:
            return None
        if name not in self.files:  # only the page's own files: no path is ever joined to a folder
            return ProxyResponse(HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")], b"no such page asset\n")
        content_type, body = self.files[name]
        return ProxyResponse(HTTPStatus.OK, [("Content-Type", content_type), *HEADERS], body, "explain-page")
