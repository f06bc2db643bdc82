"""Every error answer stays small, whatever the request quotes back (unknown keys, a path, a value)."""

from __future__ import annotations

from litelens.functions.common.errors import MAX_MESSAGE_CHARS, ClientError


def test_a_message_is_cut_and_says_how_long_it_was():
    original = "unknown field(s) " + ", ".join(f"'k{i}'" for i in range(100_000))
    error = ClientError(400, "unknown_field", original)
    assert len(error.message) <= MAX_MESSAGE_CHARS
    assert error.message.startswith("unknown field(s) 'k0', 'k1'")
    assert error.message.endswith(f"(message cut: {len(original)} characters)")
    assert ClientError(400, "x", "short").message == "short"
