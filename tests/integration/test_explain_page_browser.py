"""The explain page in a real browser: Debian's headless chromium (the system package, never a
downloaded browser), driven by Playwright's Python client, against the twin serving the mixed-kinds
bundle (numbers with missing values, an integer score, a categorical, a boolean, a date).

The bars the page draws are read off the SVG (each rect's data-* attributes) and compared with the
JSON answer the page received, through the same waterfall arithmetic the `--plot` figure uses."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from litelens.functions.common import constants
from litelens.infra.aws.template import DEFAULT_TEMPLATE, SamTemplate
from litelens.infra.client.panels import waterfall
from litelens.infra.local.serve import Twin

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
ROW = {"income": "61000", "score": "2", "applicant_type": "self-employed", "married": "no", "signup": "2021-06-01"}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no {CHROMIUM}: install Debian's chromium (`apt-get install -y chromium`)"
)


@contextlib.contextmanager
def browser_page(tmp_path):
    from playwright.sync_api import sync_playwright

    profile = tmp_path / "chromium-profile"  # a fresh profile: nothing carried between runs
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@contextlib.contextmanager
def twin_on(bundle, api_key=None):
    env = {constants.MODEL_URI: str(bundle)}
    with Twin(
        SamTemplate.load(DEFAULT_TEMPLATE), env_overrides=env, api_port=0, lambda_port=None, api_key=api_key
    ) as twin:
        for name, function in twin.functions.items():
            assert function.handler is not None, f"{name}: {function.init_error}"
        yield twin


def fill(page, row):
    for name, value in row.items():
        box = page.locator(f'.field[data-column="{name}"]')
        if box.get_attribute("data-kind") == "categorical":
            box.locator("select").select_option(value)
        else:
            box.locator("input").fill(value)


def submit(page):
    with page.expect_response(lambda r: r.url.endswith("/explain")) as answer:
        page.click("#explain")
    return answer.value


def svg_texts(page, method):
    return page.eval_on_selector_all(f'svg[data-method="{method}"] text', "els => els.map(e => e.textContent)")


def drawn_bars(page, method):
    return page.eval_on_selector_all(f'rect[data-method="{method}"]', "els => els.map(e => ({...e.dataset}))")


def test_the_page_explains_a_row_and_shows_the_apis_error(mixed_bundle, tmp_path):
    with twin_on(mixed_bundle) as twin, browser_page(tmp_path) as page:
        # GIVEN the page, its form generated from the bundle's schema
        page.goto(f"{twin.api_url}/")
        page.wait_for_selector('.field[data-column="signup"] input')
        levels = page.locator('.field[data-column="applicant_type"] option').all_inner_texts()
        assert levels == ["employed", "retired", "self-employed", "(missing)"]  # training levels, null allowed
        assert page.locator('.field[data-column="signup"] input').get_attribute("type") == "date"
        assert "training 10000 … 200000" in page.locator('.field[data-column="income"]').inner_text()
        # WHEN a row is filled and explained with 3 columns shown
        fill(page, ROW)
        page.fill("#num-features", "3")
        response = submit(page)
        assert response.status == 200
        answer = response.json()
        page.wait_for_selector('rect[data-method="shap"]')
        # THEN the waterfall's bars are the answer's, folded to 3 + rest, placed from the base to f(x)
        explanation = answer["explanations"][0]
        sent = {**ROW, "income": 61000, "score": 2}
        expected = waterfall(explanation["shap"], sent, 3)
        bars = drawn_bars(page, "shap")
        assert len(bars) == len(expected.bars)
        for bar, want in zip(bars, expected.bars, strict=True):
            assert bar["column"] == (want.column or "") and (bar["rest"] == "true") == want.is_rest
            assert float(bar["value"]) == pytest.approx(want.value, abs=1e-9)
            assert float(bar["start"]) == pytest.approx(want.start, abs=1e-9)
        assert float(bars[0]["end"]) == pytest.approx(explanation["shap"]["output"], abs=1e-4)
        labels = svg_texts(page, "shap")
        assert [b.label for b in expected.bars] == [t for t in labels if t in {b.label for b in expected.bars}]
        assert any(" = " in b.label for b in expected.bars)  # the raw value sent, e.g. "score = 2"
        # LIME's weights, each with its condition
        lime = drawn_bars(page, "lime")
        # (with num_features LIME answers the full fit's top 3 and the others' sum as "rest": one more bar)
        assert "rest" in explanation["lime"]
        kept = sorted(explanation["lime"]["weights"], key=lambda w: -abs(w["weight"]))
        assert [b["column"] for b in lime] == [w["feature"] for w in kept] + [""]
        assert float(lime[-1]["value"]) == pytest.approx(explanation["lime"]["rest"])
        lime_labels = svg_texts(page, "lime")
        for w in explanation["lime"]["weights"]:
            assert w["condition"] in lime_labels
            assert any(float(b["value"]) == pytest.approx(w["weight"]) for b in lime if b["column"] == w["feature"])
        # the prediction, the warnings and the accuracy fields
        prediction = answer["predictions"][0]
        assert page.inner_text("#prediction").startswith(f"predicted {prediction['label']} (p = ")
        quality = page.inner_text(".quality")
        assert "LIME fit R²" in quality and "LIME local error" in quality and "additivity gap" in quality
        # no label leaves its chart
        outside = page.evaluate(
            """() => [...document.querySelectorAll('.chart svg')].flatMap(svg => {
                 const box = svg.viewBox.baseVal;
                 const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim());
                 return texts.map(t => t.getBBox()).filter(b =>
                   b.x < -1 || b.x + b.width > box.width + 1 || b.y < -1 || b.y + b.height > box.height + 1)
                   .map(b => [b.x, b.width]);
               })"""
        )
        assert outside == []
        page.screenshot(path=str(tmp_path / "explain-page.png"), full_page=True)
        assert (tmp_path / "explain-page.png").stat().st_size > 10_000

        # WHEN a value the API refuses is sent (text in a number column)
        page.fill('.field[data-column="income"] input', "lots")
        refused = submit(page)
        # THEN the page shows the API's own message
        assert refused.status == 400
        error = refused.json()["error"]
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error") == f"400 {error['code']}: {error['message']}"
        assert "income" in error["message"]
        assert page.locator("#result").is_hidden()


def test_a_twin_with_an_api_key_asks_for_it(mixed_bundle, tmp_path):
    with twin_on(mixed_bundle, api_key="k-123") as twin, browser_page(tmp_path) as page:
        page.goto(f"{twin.api_url}/")
        assert page.locator("#key-field").is_visible()
        assert "k-123" not in page.content()
        # a wrong key: the gateway's refusal is shown
        page.fill("#api-key", "wrong")
        page.click("#connect")
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error") == "GET /metadata: 403: Forbidden"
        # the right key: the form, and an explanation
        page.fill("#api-key", "k-123")
        page.click("#connect")
        page.wait_for_selector('.field[data-column="income"] input')
        assert page.locator("#error").is_hidden()
        assert submit(page).status == 200
        page.wait_for_selector('rect[data-method="shap"]')
