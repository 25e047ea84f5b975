"""Synthetic transaction ids survive the SDK's masking pass unchanged (a digit run in one must
never look like a card or a mobile, or reports, audit events and ledgers would disagree)."""

from __future__ import annotations

from creditsdk._core.redact import scrub_text
from creditsdk.sandbox import Sandbox
from creditsdk.sandbox._app import letters_only, synthetic_run_id


def test_letters_only() -> None:
    assert letters_only("09afAF") == "AJKPKP"
    assert synthetic_run_id(4).isalpha()


def test_tianyuan_ids_are_left_alone_by_the_masking_pass() -> None:
    for _ in range(20):
        ty = Sandbox(providers=["tianyuan"]).tianyuan  # a fresh random run id each time
        for _ in range(200):
            tid = ty._next_tid()
            assert scrub_text(tid) == tid
