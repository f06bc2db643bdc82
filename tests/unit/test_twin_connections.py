"""Which connection gives way when the twin is full (``connections.ConnectionSlots``), and the twin's log
escaping (``twin_log``): called directly, with stand-in sockets, no network."""

from __future__ import annotations

import logging
import time

import pytest

from litelens.infra.local.connections import ConnectionEvicted, ConnectionSlots, Slot
from litelens.infra.local.twin_log import EscapeControls, Traceback, printable


class FakeSocket:
    """Records the shutdown an eviction sends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.shut = False

    def shutdown(self, how: int) -> None:
        self.shut = True


def admit(slots: ConnectionSlots, name: str, address: str = "127.0.0.1") -> tuple[FakeSocket, Slot]:
    sock = FakeSocket(name)
    slot, refusal = slots.admit(sock, address)  # type: ignore[arg-type]
    assert slot is not None, refusal
    time.sleep(0.001)  # each admission heard at its own time
    return sock, slot


def test_a_full_server_evicts_the_connection_silent_longest_and_admits_the_new_one():
    # GIVEN a server of 3 connections: A never sent a byte, B sent part of its headers, C is uploading
    slots = ConnectionSlots(3, 3)
    a, _ = admit(slots, "A")
    b, slot_b = admit(slots, "B")
    c, slot_c = admit(slots, "C")
    slot_b.heard()
    time.sleep(0.001)
    slot_c.heard()
    # WHEN a fourth arrives THEN A (silent longest) gives way: shut down, its slot marked
    d, _ = admit(slots, "D")
    assert (a.shut, b.shut, c.shut, d.shut) == (True, False, False, False)
    assert len(slots) == 3
    # AND the next one takes B, not C, which is still being heard
    slot_c.heard()
    admit(slots, "E")
    assert (b.shut, c.shut) == (True, False)
    # AND an evicted connection cannot start answering (its client is gone)
    with pytest.raises(ConnectionEvicted):
        slot_b.answer()


def test_answering_connections_never_give_way_and_the_refusal_says_why():
    slots = ConnectionSlots(2, 2)
    _, first = admit(slots, "A")
    _, second = admit(slots, "B")
    first.answer()
    second.answer()
    slot, refusal = slots.admit(FakeSocket("C"), "127.0.0.1")  # type: ignore[arg-type]
    assert slot is None and refusal == "2 connections from 127.0.0.1 already open"
    # once one waits for its client again (the next keep-alive request), it may give way
    second.wait_for_client()
    slot, _ = slots.admit(FakeSocket("C"), "127.0.0.1")  # type: ignore[arg-type]
    assert slot is not None and second.evicted and not first.evicted
    # a released slot frees its place; releasing an evicted one changes nothing
    slots.release(second)
    slots.release(first)
    assert len(slots) == 1


def test_an_address_at_its_cap_gives_way_from_its_own_connections_only():
    # GIVEN 6 connections per server, 3 per address; B holds 3 silent ones, A 3
    slots = ConnectionSlots(6, 3)
    b_socks = [admit(slots, f"B{i}", "10.0.0.2")[0] for i in range(3)]
    a_socks = [admit(slots, f"A{i}", "10.0.0.1")[0] for i in range(3)]
    # WHEN A opens three more THEN only A's own oldest give way; B keeps all three
    newer = [admit(slots, f"A{i + 3}", "10.0.0.1")[0] for i in range(3)]
    assert [s.shut for s in a_socks] == [True] * 3 and not any(s.shut for s in b_socks + newer)
    # AND a third address, at the server's cap, takes from the address holding most: B's silent longest
    slots = ConnectionSlots(4, 3)
    a_socks = [admit(slots, f"A{i}", "10.0.0.1")[0] for i in range(3)]
    b, _ = admit(slots, "B", "10.0.0.2")
    admit(slots, "C", "10.0.0.3")
    assert [s.shut for s in a_socks] == [True, False, False] and not b.shut


def test_the_per_address_cap_is_at_most_the_servers():
    assert ConnectionSlots(4, 32).max_client_connections == 4


# -- the twin's log ---------------------------------------------------------------------------------

HOSTILE = "/\x1b[31mred\x1b]0;owned\x07\x1b]8;;http://x\x1b\\link\r\nFAKE 200\x9b2J\u202e\x00"


def formatted(message: str, *args: object, exc: bool = False) -> str:
    record = logging.LogRecord("litelens.twin", logging.INFO, __file__, 1, message, args, None)
    if exc:
        try:
            raise ValueError("bad \x1b[2J value\nsecond line")
        except ValueError:
            import sys

            record.exc_info = sys.exc_info()
    assert EscapeControls().filter(record)
    return logging.Formatter("%(message)s").format(record)


def test_every_control_character_in_a_logged_field_is_escaped():
    line = formatted('%s "%s %s" %s %.1fms', "127.0.0.1", "GET\x1b[2J", HOSTILE, 404, 1.25)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch == "\u202e" for ch in line), repr(line)
    assert "\\x1b[31mred" in line and "\\x07" in line and "\\x0d\\x0aFAKE" in line and "\\x9b" in line
    assert "\\u202e" in line and " 404 1.2ms" in line
    # %r arguments, a message with no arguments, and a traceback (its own line breaks kept)
    assert formatted("bad %r", "\x1b[0m") == "bad '\\x1b[0m'"
    assert formatted("\x07ring") == "\\x07ring"
    with_traceback = formatted("failed: %s", HOSTILE, exc=True)
    assert "\x1b" not in with_traceback and "\nValueError: bad \\x1b[2J value\nsecond line" in with_traceback
    assert formatted("%s", Traceback("frame 1\n  \x1b[1mframe 2\n")) == "frame 1\n  \\x1b[1mframe 2\n"
    assert printable("plain ascii / unicode é") == "plain ascii / unicode é"


def test_the_twin_logger_carries_the_filter():
    from litelens.infra.local.twin_log import log

    assert any(isinstance(f, EscapeControls) for f in log.filters)
