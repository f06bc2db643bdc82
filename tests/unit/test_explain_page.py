"""The twin's explain page, served by the gateway without sockets: which paths it answers, with what,
what it leaves to the API (keys, routes), and that its files reach nothing but their own origin."""

from __future__ import annotations

import re

import pytest

from litelens.infra.aws.template import Route
from litelens.infra.local.explain_page import PAGE_DIR, ExplainPage
from litelens.infra.local.gateway import LocalGateway

ROUTES = [Route("GET", "/metadata", "PredictFunction", "Metadata"), Route("POST", "/explain", "ExplainFunction", "E")]


class Recorder:
    def __init__(self) -> None:
        self.events: list = []

    def invoke(self, event, request_id=None):
        self.events.append(event)
        return {"statusCode": 200, "body": '{"ok": true}'}


def gateway(api_key=None, page=True):
    function = Recorder()
    served = ExplainPage(api_key_required=api_key is not None) if page else None
    functions = {"PredictFunction": function, "ExplainFunction": function}
    return LocalGateway(ROUTES, functions, stage="v1", api_key=api_key, page=served), function


def header(answer, name):
    return next(v for k, v in answer.headers if k.lower() == name.lower())


def test_get_slash_is_the_page_and_its_assets_are_served_by_type():
    local, function = gateway()
    page = local.handle("GET", "/", {}, b"")
    assert page.status == 200 and header(page, "Content-Type").startswith("text/html")
    html = page.body.decode()
    assert '<script src="/page/explain.js"' in html and 'href="/page/explain.css"' in html
    assert '<meta name="litelens-api-key" content="none">' in html
    script = local.handle("GET", "/page/explain.js", {}, b"")
    assert script.status == 200 and header(script, "Content-Type").startswith("text/javascript")
    assert b'call("POST", "/explain"' in script.body and b'call("GET", "/metadata")' in script.body
    style = local.handle("HEAD", "/page/explain.css", {}, b"")
    assert style.status == 200 and header(style, "Content-Type").startswith("text/css")
    assert "default-src 'self'" in header(page, "Content-Security-Policy")
    assert function.events == []  # no function runs for the page


@pytest.mark.parametrize("path", ["/page/nope.js", "/page/../explain_page.py", "/page/", "/page/%2e%2e/serve.py"])
def test_only_the_pages_own_files_are_served(path):
    local, _ = gateway()
    answer = local.handle("GET", path, {}, b"")
    assert answer.status == 404 and answer.body == b"no such page asset\n"


def test_with_an_api_key_the_page_asks_for_one_but_the_api_still_requires_it():
    local, function = gateway(api_key="secret")
    page = local.handle("GET", "/", {}, b"")  # no key: the page itself is not the API
    assert page.status == 200
    assert b'content="required"' in page.body and b"secret" not in page.body
    assert local.handle("GET", "/metadata", {}, b"").status == 403
    assert local.handle("GET", "/metadata", {"x-api-key": "secret"}, b"").status == 200
    assert len(function.events) == 1


def test_other_methods_and_paths_go_on_to_the_routes():
    local, function = gateway()
    assert local.handle("POST", "/", {}, b"").status == 404  # not the page: the gateway's own 404
    assert local.handle("POST", "/explain", {}, b"{}").status == 200 and len(function.events) == 1
    without, _ = gateway(page=False)
    assert without.handle("GET", "/", {}, b"").status == 404


def test_the_page_reaches_nothing_but_its_own_origin():
    # no CDN, no web font, no remote script or style: every URL in the files is a path on this origin
    for path in PAGE_DIR.iterdir():
        text = path.read_text()
        remote = re.findall(r"""(?:src|href|url\(|@import|fetch\()\s*=?\s*["']?(?:https?:)?//""", text)
        assert remote == [], (path.name, remote)
        urls = set(re.findall(r"https?://[^\s\"')]+", text)) - {"http://www.w3.org/2000/svg"}  # a namespace name
        assert urls == set(), (path.name, urls)
