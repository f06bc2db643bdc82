"""`litelens serve`: a port in use, a missing bundle and a malformed parameter are usage errors; run
in its own process it prints its routes, serves them and the explain page, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from litelens.infra.cli import main as litelens_main
from tests.support.structural_bundle import structural_bundle


@pytest.mark.parametrize("which", ["--port", "--lambda-port"])
def test_a_port_in_use_is_a_usage_error(capsys, tmp_path, which):
    bundle = structural_bundle(tmp_path / "bundle")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {"--port": "0", "--lambda-port": "0", which: str(port)}
        argv = [
            "serve",
            "--bundle",
            str(bundle.path),
            *(item for pair in ports.items() for item in pair),
            "--function",
            "PredictFunction",
        ]
        assert litelens_main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot listen on 127.0.0.1" in err


def test_serve_without_a_bundle_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MODEL_URI", raising=False)
    assert litelens_main(["serve", "--bundle", str(tmp_path / "missing"), "--port", "0", "--lambda-port", "0"]) == 2
    err = capsys.readouterr().err
    assert "no bundle at" in err and "--bundle" in err and err.count("\n") == 1


def test_serve_rejects_a_malformed_parameter(capsys):
    assert litelens_main(["serve", "--parameter", "NoEquals"]) == 2
    assert "is not NAME=VALUE" in capsys.readouterr().err


def test_serve_command_prints_routes_serves_and_stops_on_sigterm(template_dir, tmp_path):
    # GIVEN `litelens serve` in its own process on free ports
    bundle = structural_bundle(tmp_path / "bundle")
    argv = [str(Path(sys.executable).parent / "litelens"), "serve", "--template", str(template_dir / "template.yaml")]
    argv += ["--bundle", str(bundle.path), "--port", "0", "--lambda-port", "0"]
    env = {k: v for k, v in os.environ.items() if k != "MODEL_URI"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        banner = []
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(banner)
        # THEN the banner lists the template's routes and example curl lines with the bundle's features
        assert "GET    http://127.0.0.1:" in text and "/image" in text and "-> ImageFunction" in text
        assert "(failed to initialise: answers 502)" in text  # BrokenFunction
        assert "curl -s -X POST" in text and '"debt_ratio":' in text
        url = re.search(r"GET\s+(http://127\.0\.0\.1:\d+)/image", text).group(1)
        with urllib.request.urlopen(f"{url}/image", timeout=30) as response:
            assert json.loads(response.read())["who"] == "image"
        # and the explain page's address, which answers the page
        assert f"Explain page (a local tool, in a browser): {url}/\n" in text
        with urllib.request.urlopen(f"{url}/", timeout=30) as response:
            assert response.headers["Content-Type"].startswith("text/html") and b"explain.js" in response.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    # AND SIGTERM stops it cleanly, after logging the request
    assert proc.returncode == 0, err
    assert '"GET /image" 200' in err and "shutting down" in err
