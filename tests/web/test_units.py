"""The console's small pure parts: the session seal and the SVG charts' escaping."""

from __future__ import annotations

import base64
import os
import time

from cryptography.fernet import Fernet

from supportops.web import svg
from supportops.web.session import SessionCodec, same_token


def test_a_session_opens_only_under_its_own_key_and_within_a_day() -> None:
    secret = os.urandom(32)
    codec = SessionCodec(secret)
    cookie, session = codec.seal("so_acme_" + "ab" * 32)
    assert "so_acme" not in cookie and codec.open(cookie) == session
    assert SessionCodec(os.urandom(32)).open(cookie) is None
    assert codec.open(cookie[:-2] + "xx") is None and codec.open(None) is None
    stale = Fernet(base64.urlsafe_b64encode(secret))  # the same key, an old timestamp
    old = stale.encrypt_at_time(b'{"k":"so_acme_x","c":"t"}', int(time.time()) - 9 * 3600)
    assert codec.open(old.decode()) is None


def test_tokens_compare_in_full_and_absent_ones_never_match() -> None:
    assert same_token("abc", "abc") and not same_token("abc", "abd")
    assert not same_token(None, None) and not same_token("", "")


def test_chart_labels_are_escaped() -> None:
    drawn = svg.bars("t<script>", ["<img src=x onerror=alert(1)>"], [3.0])
    assert "<img" not in drawn and "<script>" not in drawn and "&lt;img" in drawn
    assert svg.lines("empty", [], {}) == ""
