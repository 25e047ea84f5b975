"""``creditsdk sandbox serve``: a long-running Sandbox for clients in other processes."""

from __future__ import annotations

import datetime as dt
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from creditsdk import Applicant, Consent
from creditsdk.sesame import SesameClient
from creditsdk.tianyuan import TianyuanClient

from .conftest import clean_env

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")

CONSENT = Consent(
    reference="AUTH20261101001",
    purpose="credit_underwriting",
    granted_at=dt.datetime.now() - dt.timedelta(minutes=1),
)


def _finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Wait for the exit, then read what is left (through the same buffered text streams that
    _first_line used: communicate() would bypass their buffers and lose lines)."""
    proc.wait(timeout=30)
    assert proc.stdout is not None
    assert proc.stderr is not None
    return proc.stdout.read(), proc.stderr.read()


def _first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready, "sandbox serve printed nothing within 60 s"
    return proc.stdout.readline()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, object], Path]]:
    keys = tmp_path / "keys"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "creditsdk",
            "sandbox",
            "serve",
            "--json",
            "--port",
            "0",
            "--seed",
            "5",
            "--keys-dir",
            str(keys),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=clean_env(),
    )
    try:
        description = json.loads(_first_line(proc))
        yield proc, description, keys
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_serves_real_clients_then_stops_on_sigint(
    serve: tuple[subprocess.Popen[str], dict[str, object], Path],
) -> None:
    proc, description, keys = serve
    base = description["base_url"]
    assert isinstance(base, str)
    assert base.startswith("http://127.0.0.1:")
    providers = description["providers"]
    assert isinstance(providers, dict)
    assert set(providers) == {"tianyuan", "fireeye", "sesame"}
    ty = providers["tianyuan"]
    applicant = Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000")
    with TianyuanClient(ty["access_id"], ty["access_key"], base_url=base) as client:
        report = client.multi_lending(applicant, consent=CONSENT)
    assert report.transaction_id

    # Sesame across processes: the PEMs from --keys-dir, the authorization page's approve form.
    zm_info = providers["sesame"]
    with SesameClient(
        app_id=zm_info["app_id"],
        app_private_key=(keys / "sesame_app_private_key.pem").read_text(encoding="utf-8"),
        alipay_public_key=(keys / "sesame_alipay_public_key.pem").read_text(encoding="utf-8"),
        gateway_url=zm_info["gateway_url"],
        authorize_url=zm_info["authorize_url"],
    ) as zm:
        url = zm.authorization_url("https://lender.example/cb", state="s-1")
        page = httpx.post(url, data={"decision": "approve"}, follow_redirects=False)
        assert page.status_code in (302, 303)
        code = zm.parse_redirect(page.headers["location"], expected_state="s-1")
        score = zm.score(zm.exchange_code(code), consent=CONSENT)
    assert score.score is not None
    assert 350 <= score.score <= 950

    proc.send_signal(signal.SIGINT)
    _, err = _finish(proc)
    assert proc.returncode == 0
    assert "sandbox stopped" in err
    assert "Traceback" not in err
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + "/", timeout=5)


def test_keys_dir_holds_private_pems(
    serve: tuple[subprocess.Popen[str], dict[str, object], Path],
) -> None:
    proc, description, keys = serve
    assert description["keys_dir"] == str(keys)
    names = sorted(p.name for p in keys.iterdir())
    assert names == [
        "sesame_alipay_public_key.pem",
        "sesame_app_private_key.pem",
        "sesame_app_public_key.pem",
    ]
    for path in keys.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.read_text(encoding="utf-8").startswith("-----BEGIN ")
    assert "PRIVATE KEY" in (keys / "sesame_app_private_key.pem").read_text(encoding="utf-8")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_human_output_and_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "creditsdk", "sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=clean_env(),
    )
    try:
        first = _first_line(proc)
        assert first.startswith("creditsdk sandbox serving on http://127.0.0.1:")
        assert "Ctrl-C" in first
        proc.send_signal(signal.SIGTERM)
        out, err = _finish(proc)
        assert proc.returncode == 0
        assert "access_id = ty-sandbox-" in out
        assert "sandbox stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def test_same_seed_same_credentials() -> None:
    from creditsdk._cli import sandbox_description
    from creditsdk.sandbox import Sandbox

    with Sandbox(seed=5) as a, Sandbox(seed=5) as b:
        da, db = sandbox_description(a), sandbox_description(b)
    assert da["providers"]["tianyuan"] == db["providers"]["tianyuan"]
    assert da["providers"]["fireeye"] == db["providers"]["fireeye"]
