"""Issue 11, items 6 and 7: nothing in the output folder gives a personal value back."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import zlib
from pathlib import Path
from typing import Any

import pytest

from creditsdk.batch import run_batch
from creditsdk.batch._input import fingerprint
from creditsdk.errors import ConfigurationError

from .batchhelpers import CONSENT, applicants, demo_sandbox, read_csv

CARD = "6222021234567890123"  # 19 digits; the masked form keeps the first 4 and the last 4


def _ledger(out: Path) -> tuple[dict[str, str], list[tuple[str, dict[str, Any]]]]:
    conn = sqlite3.connect(out / "ledger.sqlite")
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        rows = [
            (fp, json.loads(zlib.decompress(keys))) if keys else (fp, {})
            for fp, keys in conn.execute("SELECT fingerprint, keys FROM rows ORDER BY row_no")
        ]
    finally:
        conn.close()
    return meta, rows


def _brute_force_card(out: Path, known_middle: str) -> str | None:
    """What an attacker with only the output folder does: for each masked card, try the
    candidates (bounded here: the attacker is told all but 4 of the hidden digits) against the
    row's fingerprint, with the salt stored beside it."""
    meta, rows = _ledger(out)
    for fp, keys in rows:
        masked = keys["card_no"]
        head, tail = masked[:4], masked[-4:]
        for guess in range(10_000):
            card = head + known_middle + f"{guess:04d}" + tail
            row = {"ref": keys["ref"], "card_no": card, "trans_date": keys["trans_date"],
                   "amount": keys["amount"]}  # fmt: skip
            if fingerprint(meta["salt"], row) == fp:
                return card
    return None


def test_the_ledger_no_longer_gives_a_card_back(tmp_path: Path) -> None:
    # A verify_transaction row: the date and amount are kept in clear, the card masked.
    rows = [{"ref": "t1", "card_no": CARD, "trans_date": "2016-12-01", "amount": "212.00"}]
    out = tmp_path / "out"
    run_batch(rows, "fireeye.verify_transaction", out, consent=CONSENT, sandbox=True,
              key_dir=tmp_path / "keys")  # fmt: skip
    _, stored = _ledger(out)
    assert stored[0][1]["card_no"] == "6222***********0123"
    # On the old ledger (unkeyed digest, salt beside it) this search finds the card.
    assert _brute_force_card(out, CARD[4:11]) is None
    # The key lives outside the output folder, and no file of the folder holds it.
    key = (tmp_path / "keys" / "batch-fingerprint.key").read_text().strip()
    for path in out.iterdir():
        data = path.read_bytes()
        assert CARD.encode() not in data
        assert key.encode() not in data


def test_a_resume_needs_the_same_key(tmp_path: Path) -> None:
    rows = applicants(3)
    with demo_sandbox() as sb:
        run_batch(rows, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb,
                  key_dir=tmp_path / "k1")  # fmt: skip
        with pytest.raises(ConfigurationError, match="another fingerprint key"):
            run_batch(rows, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb,
                      key_dir=tmp_path / "k2")  # fmt: skip
        with pytest.raises(ConfigurationError, match="outside the output folder"):
            run_batch(rows, "demo.score", tmp_path / "o2", consent=CONSENT, sandbox=sb,
                      key_dir=tmp_path / "o2" / "keys")  # fmt: skip


def test_every_output_file_is_private(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = os.umask(0o022)  # a typical umask: files would be world-readable
    try:
        with demo_sandbox() as sb:
            run_batch(applicants(3), "demo.score", out, consent=CONSENT, sandbox=sb,
                      key_dir=tmp_path / "keys")  # fmt: skip
    finally:
        os.umask(old)
    files = sorted(p.name for p in out.iterdir())
    assert {"ledger.sqlite", "results.csv", "schema.json", "summary.json"} <= set(files)
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE(out.stat().st_mode) & 0o077 == 0
    key = tmp_path / "keys" / "batch-fingerprint.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def _with_extra_personal_columns() -> list[dict[str, str]]:
    rows = applicants(3)
    for i, row in enumerate(rows):
        row["phone"] = f"139{i:08d}"  # a second alias of mobile: not the canonical column
        row["emergency_contact_mobile"] = f"+86 137{i:08d}"
        row["spouse_id_card"] = "11010519491231002X"
        row["note"] = f"card 6222 0212 3456 789{i} on file"
        row["branch"] = f"BR{i:03d}"
    return rows


def test_passthrough_cells_that_look_personal_are_masked(tmp_path: Path) -> None:
    rows = _with_extra_personal_columns()
    with demo_sandbox() as sb:
        run_batch(rows, "demo.score", tmp_path / "out", consent=CONSENT, sandbox=sb,
                  key_dir=tmp_path / "keys", raw_columns=["branch"])  # fmt: skip
    out = read_csv(tmp_path / "out" / "results.csv")
    text = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "out").glob("*.*"))
    stored = json.dumps([keys for _, keys in _ledger(tmp_path / "out")[1]])
    for row in rows:
        for value in (row["phone"], "137" + row["phone"][3:], "11010519491231002X"):
            assert value not in text
            assert value not in stored
    assert out[0]["phone"] == "139****0000"
    assert out[0]["emergency_contact_mobile"] == "+86 137****0000"
    assert out[0]["spouse_id_card"] == "110105********002X"
    assert out[0]["note"] == "card 6222********7890 on file"
    assert out[0]["branch"] == "BR000"  # a named column passed through raw, on purpose


def test_pii_drop_and_hmac(tmp_path: Path) -> None:
    rows = _with_extra_personal_columns()
    rows.append(dict(rows[0], applicant_id="again"))  # the same person twice
    with demo_sandbox() as sb:
        run_batch(rows, "demo.score", tmp_path / "drop", consent=CONSENT, sandbox=sb,
                  key_dir=tmp_path / "keys", pii="drop")  # fmt: skip
        run_batch(rows, "demo.score", tmp_path / "hmac", consent=CONSENT, sandbox=sb,
                  key_dir=tmp_path / "keys", pii="hmac")  # fmt: skip
        with pytest.raises(ConfigurationError, match="pii"):
            run_batch(rows, "demo.score", tmp_path / "x", consent=CONSENT, sandbox=sb,
                      key_dir=tmp_path / "keys", pii="clear")  # fmt: skip
    dropped = read_csv(tmp_path / "drop" / "results.csv")
    assert not {"name", "id_card", "mobile"} & set(dropped[0])
    assert dropped[0]["phone"] == "139****0000"
    roles = {c["name"]: c["role"] for c in json.loads((tmp_path / "hmac" / "schema.json")
                                                        .read_text())["columns"]}  # fmt: skip
    assert roles["id_card"] == "personal"
    hashed = read_csv(tmp_path / "hmac" / "results.csv")
    assert hashed[0]["id_card"] == hashed[3]["id_card"] != hashed[1]["id_card"]
    assert len(hashed[0]["id_card"]) == 32
    assert "*" not in hashed[0]["id_card"]
    assert hashed[0]["phone"].startswith("hmac:")
    assert rows[0]["id_card"][6:14] not in (tmp_path / "hmac" / "results.csv").read_text()
