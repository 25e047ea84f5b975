"""Units of the batch runner: ledger protocol, token bucket, input reading, flattening."""

from __future__ import annotations

import asyncio
import datetime as _dt
import math
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import pytest

from creditsdk.batch import RowState, RunLedger, TokenBucket, flatten_value, get_operation
from creditsdk.batch._input import InputRows, consent_for_row, fingerprint, parse_consent
from creditsdk.batch._ledger import LedgerWriter
from creditsdk.batch.operations import available_operations
from creditsdk.errors import ConfigurationError, InvalidInputError
from creditsdk.tianyuan._batch import MultiLending as TianyuanMultiLending

from .batchhelpers import CONSENT, applicants, write_csv

# -- ledger ----------------------------------------------------------------------------------


def test_ledger_binds_to_one_operation(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path / "l.sqlite")
    salt = ledger.bind("demo.score")
    assert ledger.bind("demo.score") == salt
    with pytest.raises(ConfigurationError, match=r"not 'fireeye\.model_score'"):
        ledger.bind("fireeye.model_score")
    ledger.close()


def test_a_second_run_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    first = RunLedger(tmp_path / "l.sqlite")
    with pytest.raises(ConfigurationError, match="another batch is running"):
        RunLedger(tmp_path / "l.sqlite")
    first.close()
    RunLedger(tmp_path / "l.sqlite").close()  # free again once the first is closed


async def test_sending_rows_become_maybe_billed_on_recovery(tmp_path: Path) -> None:
    ledger = RunLedger(tmp_path / "l.sqlite")
    ledger.bind("demo.score")
    writer = LedgerWriter(ledger)
    writer.start()
    await asyncio.gather(
        writer.write(1, "f1", RowState.SENDING, keys={"k": "1"}, new_attempt=True),
        writer.write(2, "f2", RowState.SENDING, keys={"k": "2"}, new_attempt=True),
        writer.write(3, "f3", RowState.INVALID, status="invalid", error_code="x"),
    )
    await writer.write(2, "f2", RowState.DONE, status="hit", result={"score": 1})
    await writer.aclose()
    # Writes queued while a commit runs go into the next one: fewer commits than writes.
    assert writer.commits < 4
    assert ledger.recover() == 1
    rows = {r.row_no: r for r in ledger.rows()}
    assert (rows[1].state, rows[1].status, rows[1].error_code) == (
        RowState.MAYBE_BILLED,
        "maybe_billed",
        "interrupted",
    )
    assert rows[1].keys == {"k": "1"}
    assert (rows[2].state, rows[2].result, rows[2].keys, rows[2].attempts) == (
        RowState.DONE,
        {"score": 1},
        {"k": "2"},  # kept from the sending write
        1,
    )
    states = ledger.index()
    assert [RunLedger.state_of(states, n) for n in (1, 2, 3, 4, 99)] == [
        RowState.MAYBE_BILLED,
        RowState.DONE,
        RowState.INVALID,
        None,
        None,
    ]
    assert ledger.recover() == 0  # nothing left in flight
    ledger.close()


def test_ledger_never_stores_unmasked_personal_data(tmp_path: Path) -> None:
    from creditsdk.batch import run_batch

    rows = applicants(6)
    run_batch(
        rows, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=_demo_in_process(), rate=None
    )
    raw = (tmp_path / "out" / "ledger.sqlite").read_bytes()
    with sqlite3.connect(tmp_path / "out" / "ledger.sqlite") as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    raw += (tmp_path / "out" / "ledger.sqlite").read_bytes()
    for row in rows:
        for field in ("id_card", "mobile"):
            assert row[field].encode() not in raw


def _demo_in_process() -> Any:
    from .batchhelpers import demo_sandbox

    return demo_sandbox()


# -- token bucket ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_token_bucket_paces_calls_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4.0, burst=1, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(9):
        await bucket.acquire()
        times.append(clock.now)
    assert times == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    assert bucket.acquired == 9


async def test_token_bucket_burst_after_idle_and_windows() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, burst=5, clock=clock, sleep=clock.sleep)
    clock.now = 100.0  # idle for long: at most `burst` tokens saved up
    times = []
    for _ in range(40):
        await bucket.acquire()
        times.append(clock.now)
    for start in times:  # any 1-second window: at most rate + burst calls
        assert sum(1 for t in times if start <= t < start + 1.0) <= 10 + 5
    assert times[:5] == [100.0] * 5
    assert times[5] == pytest.approx(100.1)


async def test_token_bucket_concurrent_waiters_share_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, clock=clock, sleep=clock.sleep)
    done: list[float] = []

    async def one() -> None:
        await bucket.acquire()
        done.append(clock.now)

    await asyncio.gather(*(one() for _ in range(6)))
    assert done == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])


def test_bucket_gate_charges_retries_but_not_a_prepaid_first_attempt() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, clock=clock, sleep=clock.sleep)
    gate = bucket.gate(first_attempt_paid=True)
    assert bucket.reserve() == 0.0  # the runner takes the first attempt's token itself
    assert gate.admit(1) == 0.0  # first attempt: already paid
    assert bucket.acquired == 1
    assert gate.admit(2) == pytest.approx(1.0)  # a retry pays, and waits for its token
    assert gate.admit(3) == pytest.approx(2.0)  # tokens are handed out in order
    clock.now = 10.0
    assert gate.admit(2) == 0.0  # refilled meanwhile
    assert bucket.acquired == 4
    unpaid = bucket.gate()
    assert unpaid.admit(1) == pytest.approx(1.0)  # without a prepaid first, attempt 1 pays too


def test_token_bucket_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(1, burst=0)


# -- input -----------------------------------------------------------------------------------


def test_csv_aliases_mapping_and_encoding(tmp_path: Path) -> None:
    rows = [
        {"姓名": "张三", "身份证号": "11010519491231002X", "手机号": "13800138000", "客户": "7"}
    ]
    src = write_csv(tmp_path / "gbk.csv", rows, encoding="gb18030")
    data = InputRows(src, encoding="gb18030")
    assert data.columns == ["name", "id_card", "mobile", "客户"]
    assert list(data) == [
        (1, {"name": "张三", "id_card": "11010519491231002X", "mobile": "13800138000", "客户": "7"})
    ]
    mapped = InputRows([{"Phone": "1", "cid": "2"}], mapping={"id_card": "CID"})
    assert mapped.columns == ["mobile", "id_card"]
    with pytest.raises(ConfigurationError, match="no column 'nope'"):
        InputRows([{"a": "1"}], mapping={"id_card": "nope"})
    with pytest.raises(ConfigurationError, match="run again with encoding='gb18030'"):
        InputRows(src)  # GB18030 bytes are not UTF-8... at the header already
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ConfigurationError, match="empty"):
        InputRows(empty)


def test_dataframe_input_nan_is_empty() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "name": ["张三", None, "李四"],
            "mobile": [13800138000, float("nan"), 13900139000],  # numeric with a gap: floats
            "n": [1.5, float("nan"), 2.0],
        }
    )
    assert list(InputRows(frame)) == [
        (1, {"name": "张三", "mobile": "13800138000", "n": "1.5"}),
        (2, {"name": "", "mobile": "", "n": ""}),
        (3, {"name": "李四", "mobile": "13900139000", "n": "2"}),
    ]


def test_consent_per_row_and_parsing() -> None:
    row = {
        "consent_reference": "R1",
        "consent_purpose": "",
        "consent_granted_at": "2026-11-01 09:00:00",
    }
    c = consent_for_row(row, CONSENT)
    assert c is not None
    assert (c.reference, c.purpose, c.granted_at) == (
        "R1",
        CONSENT.purpose,
        _dt.datetime(2026, 11, 1, 9),
    )
    assert consent_for_row({"consent_reference": " "}, CONSENT) is CONSENT
    with pytest.raises(InvalidInputError, match="consent_granted_at"):
        parse_consent("R", "p", "yesterday")
    with pytest.raises(InvalidInputError, match="consent_granted_at"):
        parse_consent("R", "p", None)
    aware = parse_consent("R", "p", "2026-11-01T01:00:00Z", "2027-11-01T01:00:00Z")
    assert aware.granted_at.tzinfo is not None


def test_fingerprint_depends_on_salt_and_content() -> None:
    a = {"id_card": "11010519491231002X", "name": "张三"}
    assert fingerprint("s", a) == fingerprint("s", dict(reversed(list(a.items()))))
    assert fingerprint("s", a) != fingerprint("t", a)
    assert fingerprint("s", a) != fingerprint("s", {**a, "name": "李四"})


# -- operations and flattening ---------------------------------------------------------------


@attrs.frozen
class Range:
    low: float | None
    high: float | None


@attrs.frozen
class Factor:
    code: str
    raw: str
    value: Any
    label: str = ""
    status: str = "decoded"


@attrs.frozen
class Report:
    transaction_id: str
    raw: dict[str, str]
    factors: dict[str, Factor]
    has_data: bool = True


def test_flatten_value_ranges_and_scalars() -> None:
    assert flatten_value("x", Range(0, 9)) == {"x_low": 0, "x_high": 9}
    assert flatten_value("x", Range(10, None)) == {"x_low": 10, "x_high": None}
    assert flatten_value("x", True) == {"x": True}
    assert flatten_value("x", None) == {"x": None}
    from decimal import Decimal

    assert flatten_value("x", Decimal("1.5")) == {"x": 1.5}
    assert flatten_value("x", _dt.date(2026, 1, 2)) == {"x": "2026-01-02"}


def test_tianyuan_adapter_flattens_a_report_by_the_contract() -> None:
    from creditsdk.tianyuan import MultiLendingReport
    from creditsdk.tianyuan.factors import SANDBOX_BUCKET_TABLES

    op = TianyuanMultiLending()
    raw = {
        "xyp_cpl0001": "1",
        "xyp_cpl0002": "",  # no record
        "xyp_cpl0044": "1",
        "xyp_model_score_high": "620",
        "xyp_model_score_mid": "-1",  # not hit
        "xyp_cpl0003": "6",  # the open top bucket: [49, +inf)
        "xyp_t01x": "7",  # in no catalog and no table: kept aside, as received
    }
    report = MultiLendingReport.from_factors(raw, transaction_id="T1", tables=SANDBOX_BUCKET_TABLES)
    assert op.flatten(report) == {
        "xyp_cpl0001": 1,
        "xyp_cpl0001_low": 0.0,
        "xyp_cpl0001_high": 9.0,
        "xyp_cpl0001_mid": 4.5,
        "xyp_cpl0003": 6,
        "xyp_cpl0003_low": 49.0,
        "xyp_cpl0003_high": math.inf,  # an open end is +inf, not NaN
        "xyp_cpl0003_mid": 49.0,  # the finite end
        "xyp_cpl0044": 1,
        "xyp_model_score_high": 620.0,
        "xyp_model_score_high_status": "hit",
        "xyp_model_score_mid_status": "not_hit",  # no score: the column stays numeric
        "unlisted_factors": '{"xyp_t01x": "7"}',
        "effective": 1,
    }
    assert op.status(report) == "hit"
    assert op.status(Report("T2", {}, {}, has_data=False)) == "no_data"
    assert op.transaction_id(report) == "T1"
    prepared = op.prepare(
        {"name": "张三", "id_card": "11010519491231002x", "mobile": "138 0013 8000"}
    )
    assert op.masked(prepared) == {
        "name": "张*",
        "id_card": "110105********002X",
        "mobile": "138****8000",
    }
    with pytest.raises(InvalidInputError, match="mobile"):
        op.prepare({"name": "张三", "id_card": "11010519491231002X", "mobile": ""})


def test_fireeye_adapters_validate_rows() -> None:
    score = get_operation("fireeye.model_score")
    prepared = score.prepare(
        {"card_no": "6262 3201 2012 3210", "id_card": "11010519491231002X", "mobile": "13800138000"}
    )
    assert prepared.card_no == "6262320120123210"
    assert score.masked(prepared)["card_no"] == "6262********3210"
    with pytest.raises(InvalidInputError, match="card_no"):
        score.prepare({"card_no": "12", "id_card": "11010519491231002X", "mobile": "13800138000"})
    verify = get_operation("fireeye.verify_transaction")
    p = verify.prepare(
        {"card_no": "6262320120123210", "trans_date": "20161201", "amount": "212.00"}
    )
    assert (p.trans_date, str(p.amount)) == (_dt.date(2016, 12, 1), "212.00")
    # The client's own rules (fireeye._protocol.inputs_verify_transaction), not a batch copy:
    # the old batch parser read "1,5" as 15 yuan and "2016121" as 2016-12-01.
    with pytest.raises(InvalidInputError, match="amount"):
        verify.prepare({"card_no": "6262320120123210", "trans_date": "20161201", "amount": "1,5"})
    with pytest.raises(InvalidInputError, match="trans_date"):
        verify.prepare({"card_no": "6262320120123210", "trans_date": "2016121", "amount": "1"})
    with pytest.raises(InvalidInputError, match="amount"):
        verify.prepare({"card_no": "6262320120123210", "trans_date": "20161201", "amount": "-1"})
    with pytest.raises(InvalidInputError, match="trans_date"):
        verify.prepare({"card_no": "6262320120123210", "trans_date": "1/12/16", "amount": "1"})

    @attrs.frozen
    class Check:
        matched: bool
        transaction_id: str | None = None

    assert verify.flatten(Check(True)) == {"matched": 1, "effective": 1}
    assert verify.flatten(Check(False)) == {"matched": 0, "effective": 0}
    assert verify.status(Check(False)) == "hit"


def test_registry_and_sesame_is_out_of_scope() -> None:
    assert {"tianyuan.multi_lending", "fireeye.model_score", "demo.score"} <= set(
        available_operations()
    )
    with pytest.raises(ConfigurationError, match="OAuth"):
        get_operation("sesame.score")


def test_operation_without_its_provider_package_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from creditsdk.batch import ProviderOperation

    class Orphan(ProviderOperation):
        name = "gone.score"
        client_class = "creditsdk.gone.client:AsyncGoneClient"

    monkeypatch.setitem(sys.modules, "creditsdk.gone", None)  # as if not installed
    with pytest.raises(ConfigurationError, match=r"needs creditsdk\.gone\.client"):
        Orphan().make_client()


def test_the_old_ledger_name_warns_and_is_the_run_ledger() -> None:
    import creditsdk.batch

    with pytest.warns(DeprecationWarning, match="RunLedger"):
        old = creditsdk.batch.Ledger
    assert old is RunLedger
    with pytest.raises(AttributeError):
        _ = creditsdk.batch.NoSuchThing  # type: ignore[attr-defined]


def test_operations_are_the_ones_the_specs_declare() -> None:
    from creditsdk._spec import discover_specs

    declared = {name for spec in discover_specs() for name in spec.batch_operations}
    assert declared <= set(available_operations())
    for name in declared:
        assert get_operation(name).name == name


def test_a_registered_operation_is_offered_and_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from creditsdk.batch import operations, register_operation

    monkeypatch.setattr(operations, "_REGISTERED", {})
    mine = TianyuanMultiLending()
    register_operation("mine.op", lambda: mine)
    register_operation("tianyuan.multi_lending", lambda: mine)
    assert "mine.op" in available_operations()
    assert get_operation("mine.op") is mine
    assert get_operation("tianyuan.multi_lending") is mine
    with pytest.raises(ConfigurationError, match=r"unknown batch operation 'gone\.op'"):
        get_operation("gone.op")
