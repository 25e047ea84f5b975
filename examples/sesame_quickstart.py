"""Sesame (Zhima) quickstart: authorize a user, exchange the code, read their score.

Without credentials this runs against the embedded Sandbox (it plays the user saying yes).
With CREDITSDK_SESAME_APP_ID / _APP_PRIVATE_KEY / _ALIPAY_PUBLIC_KEY set it talks to Alipay:
it prints the authorization URL; once the user has agreed, run it again with
CREDITSDK_SESAME_REDIRECT set to the URL they were sent back to (and the same STATE).

    python examples/sesame_quickstart.py
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from creditsdk import Consent
from creditsdk.sandbox import Sandbox
from creditsdk.sesame import SesameClient

STATE = os.environ.get("CREDITSDK_SESAME_STATE", "order-42")
REDIRECT_URI = "https://lender.example/sesame/callback"
consent = Consent(
    reference="AUTH20251210001",
    purpose="credit_underwriting",
    granted_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1),
)


def flow(zm: SesameClient, redirected_to: str) -> None:
    auth_code = zm.parse_redirect(redirected_to, expected_state=STATE)
    grant = zm.exchange_code(auth_code)
    print("grant:", grant)  # tokens masked
    score = zm.score(grant, consent=consent)
    shown = "N/A" if score.score is None else score.score
    print(f"zhima score: {shown}  (transaction {score.transaction_id})")


def main() -> int:
    if not os.environ.get("CREDITSDK_SESAME_APP_ID"):
        print("No CREDITSDK_SESAME_* credentials: using the embedded Sandbox.")
        with Sandbox(providers=["sesame"]) as sb, sb.sesame_client() as zm:
            url = zm.authorization_url(REDIRECT_URI, state=STATE)
            print("send the user to:", url.split("?")[0], "…")
            flow(zm, sb.sesame.approve(url))  # the sandbox plays the user saying yes
            print("billed calls in the sandbox ledger:", len(sb.ledger("sesame")))
        return 0
    with SesameClient() as zm:  # everything from CREDITSDK_SESAME_* variables
        redirected = os.environ.get("CREDITSDK_SESAME_REDIRECT")
        if not redirected:
            print("send the user to:", zm.authorization_url(REDIRECT_URI, state=STATE))
            print("then rerun with CREDITSDK_SESAME_REDIRECT=<the URL they came back to>")
            return 0
        flow(zm, redirected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
