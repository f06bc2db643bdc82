"""The explain image's written decisions hold: no USER (Lambda runs images as its own least-privileged
user) and no HEALTHCHECK (Lambda never runs one), each explained in the Dockerfile and the README."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "functions" / "explain" / "Dockerfile"


def _instructions(text: str) -> list[str]:
    """The first word of every instruction line (comments and continuations left out)."""
    words, continued = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not continued:
            words.append(stripped.split()[0].upper())
        continued = stripped.endswith("\\") if stripped and not stripped.startswith("#") else continued
    return words


def test_the_explain_image_sets_no_user_and_no_healthcheck_and_says_why():
    text = DOCKERFILE.read_text()
    instructions = _instructions(text)
    assert "FROM" in instructions and "CMD" in instructions
    assert "USER" not in instructions and "HEALTHCHECK" not in instructions
    assert "No USER, by decision" in text and "No HEALTHCHECK, by decision" in text
    readme = (ROOT / "README.md").read_text()
    assert "sets no `USER`" in readme and "no `HEALTHCHECK`, by decision" in readme
