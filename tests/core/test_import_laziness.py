"""Importing a provider loads no crypto backend, no ID-number tables and no factor tables; the
first call loads what it needs and works. Each check runs in a fresh interpreter (no timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

#: Modules only a call may load: the crypto backends (either library), python-stdnum (the ID
#: and card checks), the TOML reader of bucket tables.
LOADED_ON_FIRST_USE = (
    "Crypto",
    "cryptography",
    "creditsdk._core.crypto._openssl",
    "creditsdk._core.crypto._pycryptodome",
    "stdnum",
    "tomllib",
    "tomli",
)

PROBE = """
import json, sys
import creditsdk.{provider} as provider

def heavy():
    return sorted(
        m for m in sys.modules
        if m.split(".")[0] in {prefixes} or m in {prefixes}
    )

out = {{"after_import": heavy()}}
factors = sys.modules.get("creditsdk.tianyuan.factors")
out["catalog_read"] = bool(factors and factors.catalog.cache_info().currsize)
for name in provider.__all__:
    getattr(provider, name)
out["dir_has_all"] = set(provider.__all__) <= set(dir(provider))
{call}
out["after_call"] = heavy()
print(json.dumps(out))
"""

CALLS = {
    "tianyuan": """
import datetime as dt
from creditsdk import Applicant, Consent
from creditsdk.sandbox import Sandbox
consent = Consent(reference="AUTH1", purpose="credit_underwriting",
                  granted_at=dt.datetime(2026, 11, 1))
with Sandbox(providers=["tianyuan"], seed=3) as sb, sb.tianyuan_client() as ty:
    report = ty.multi_lending(
        Applicant(name="张三", id_card="11010519491231002X", mobile="13800138000"),
        consent=consent,
    )
out["result"] = report.transaction_id is not None and len(report.factors) > 0
""",
    "sesame": """
import datetime as dt
from creditsdk import Consent
from creditsdk.sandbox import Sandbox
consent = Consent(reference="AUTH1", purpose="credit_underwriting",
                  granted_at=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc))
with Sandbox(providers=["sesame"], seed=1) as sb, sb.sesame_client() as zm:
    back = sb.sesame.approve(zm.authorization_url("https://lender.example/cb", state="s1"))
    grant = zm.exchange_code(zm.parse_redirect(back, expected_state="s1"))
    sb.sesame.set_score(grant.user_id, 688)
    out["result"] = zm.score(grant, consent=consent).score == 688
""",
    "fireeye": """
import datetime as dt
from creditsdk import Consent
from creditsdk.sandbox import Sandbox
consent = Consent(reference="AUTH1", purpose="credit_underwriting",
                  granted_at=dt.datetime(2026, 11, 1, 9, 0))
card, id_card, mobile = "6222021234567890128", "11010519491231002X", "13800138000"
with Sandbox(providers=["fireeye"]) as sb, sb.fireeye_client() as fe:
    score = fe.model_score(card, id_card, mobile, consent=consent)
    out["result"] = score.score == sb.fireeye.score_for(card, id_card, mobile)
""",
}


def probe(provider: str) -> dict[str, object]:
    prefixes = repr(set(LOADED_ON_FIRST_USE))
    code = PROBE.format(provider=provider, prefixes=prefixes, call=CALLS[provider])
    env = {k: v for k, v in os.environ.items() if k != "CREDITSDK_CRYPTO"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("provider", ["tianyuan", "sesame", "fireeye"])
def test_importing_a_provider_loads_nothing_a_call_does_not_need_yet(provider: str) -> None:
    out = probe(provider)
    assert out["after_import"] == []
    assert out["catalog_read"] is False
    assert out["dir_has_all"] is True
    assert out["result"] is True
    loaded = set(out["after_call"])  # type: ignore[arg-type]
    if provider != "sesame":  # a Sesame score call takes no ID number
        assert "stdnum.cn.ric" in loaded  # the first ID check imported python-stdnum
    if provider != "fireeye":  # FireEye signs nothing; the other two ran our crypto
        assert "creditsdk._core.crypto._openssl" in loaded  # cryptography is a dev dependency
