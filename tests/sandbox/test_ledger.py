"""The Sandbox's billing ledger: recording appends, entries are built when read (once)."""

from __future__ import annotations

import datetime as dt

from creditsdk.sandbox._app import Ledger, SandboxContext


def test_entries_are_built_in_order_with_seq_and_utc_time() -> None:
    ledger = Ledger()
    details = {"price_yuan": "0.80"}
    assert ledger.record("a", "OP1", "T1", details) == 1
    details["price_yuan"] = "changed"  # the ledger keeps its own copy
    assert ledger.record("b", "OP2", "T2", {}) == 2
    first = ledger.entries()
    assert [(e.provider, e.operation, e.transaction_id, e.seq) for e in first] == [
        ("a", "OP1", "T1", 1),
        ("b", "OP2", "T2", 2),
    ]
    assert first[0].details == {"price_yuan": "0.80"}
    assert first[0].at.tzinfo is dt.timezone.utc
    assert ledger.record("a", "OP3", "T3", {}) == 3
    again = ledger.entries("a")
    assert [e.seq for e in again] == [1, 3]
    assert again[0] is first[0]  # built once
    assert len(ledger) == 3
    ledger.clear()
    assert ledger.entries() == []
    assert len(ledger) == 0
    assert ledger.record("a", "OP4", "T4", {}) == 1


def test_context_bill_returns_the_entry() -> None:
    ledger = Ledger()
    ctx = SandboxContext(
        "p", ledger=ledger, seed=0, options={}, wiring=lambda _: {}, base_url=lambda: "x"
    )
    ctx.record("OP", "T0", {})
    entry = ctx.bill("OP", "T1", item="x")
    assert (entry.seq, entry.transaction_id, dict(entry.details)) == (2, "T1", {"item": "x"})
    assert [e.transaction_id for e in ctx.ledger()] == ["T0", "T1"]
