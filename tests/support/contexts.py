"""Lambda contexts that say how much time is left, for the explain function's budget tests."""

from __future__ import annotations


class Remaining:
    """A Lambda context whose time left is ``plenty_ms`` for the first ``calls`` questions, then ``short_ms``."""

    def __init__(self, calls: int, plenty_ms: int = 60_000, short_ms: int = 200) -> None:
        self.calls, self.plenty_ms, self.short_ms = calls, plenty_ms, short_ms
        self.asked = 0
        self.aws_request_id = "req-deadline"

    def get_remaining_time_in_millis(self) -> int:
        self.asked += 1
        return self.plenty_ms if self.asked <= self.calls else self.short_ms
