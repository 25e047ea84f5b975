"""UnionPay FireEye in a few lines: a transaction check and a model score.

Runs against the loopback Sandbox unless CREDITSDK_FIREEYE_INSTITUTION_ID and
CREDITSDK_FIREEYE_APP_KEY are set, in which case it calls UnionPay (billed!) with the card,
transaction and cardholder given in FIREEYE_EXAMPLE_CARD / _DATE (YYYYMMDD) / _AMOUNT (yuan) /
_ID_CARD / _MOBILE. Prints masked results only.

    python examples/fireeye_quickstart.py
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import warnings
from decimal import Decimal

from creditsdk import Consent
from creditsdk.errors import CreditSDKError, UnverifiedCardWarning
from creditsdk.fireeye import CardGuard, FireEyeClient
from creditsdk.sandbox import Sandbox

CONSENT = Consent(
    reference="AUTH20261101001",
    purpose="credit_underwriting",
    granted_at=dt.datetime(2026, 11, 1, 9, 0),
)


def run(
    fe: FireEyeClient, card: str, day: dt.date, amount: Decimal, id_card: str, mobile: str
) -> None:
    print(fe)
    check = fe.verify_transaction(card, day, amount, consent=CONSENT)
    print(f"transaction {day:%Y-%m-%d} ¥{amount}: {check}")
    unknown = fe.verify_transaction(card, day, amount + Decimal("0.01"), consent=CONSENT)
    print(f"transaction {day:%Y-%m-%d} ¥{amount + Decimal('0.01')}: {unknown}")
    score = fe.model_score(card, id_card, mobile, consent=CONSENT)
    print(f"model score: {score}")


def main() -> int:
    warnings.simplefilter("ignore", UnverifiedCardWarning)  # some Chinese cards fail Luhn
    guard = CardGuard()  # never let this script get a card locked
    try:
        if os.environ.get("CREDITSDK_FIREEYE_INSTITUTION_ID") and os.environ.get(
            "CREDITSDK_FIREEYE_APP_KEY"
        ):
            env = os.environ
            with FireEyeClient(card_guard=guard) as fe:
                run(
                    fe,
                    env["FIREEYE_EXAMPLE_CARD"],
                    dt.datetime.strptime(env["FIREEYE_EXAMPLE_DATE"], "%Y%m%d").date(),
                    Decimal(env["FIREEYE_EXAMPLE_AMOUNT"]),
                    env["FIREEYE_EXAMPLE_ID_CARD"],
                    env["FIREEYE_EXAMPLE_MOBILE"],
                )
            return 0
        card = (
            "6262320120153210"  # passes Luhn; the provider's sample card 6262320120123210 does not
        )
        with Sandbox(providers=["fireeye"]) as sb:
            real = sb.fireeye.transactions(card)[0]  # a transaction the sandbox knows
            print(f"sandbox at {sb.base_url}")
            with sb.fireeye_client(card_guard=guard) as fe:
                run(fe, card, real.date, real.amount, "11010519491231002X", "13800138000")
            print(f"billed calls in the sandbox ledger: {len(sb.ledger('fireeye'))}")
        return 0
    except KeyError as missing:
        print(f"set {missing.args[0]} to run against UnionPay", file=sys.stderr)
        return 2
    except CreditSDKError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
