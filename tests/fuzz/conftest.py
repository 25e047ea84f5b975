"""The fuzz profile: many examples, no deadline, used only by the tests in this folder.

``CREDITSDK_FUZZ_EXAMPLES`` raises (never lowers) the count, e.g. for a nightly run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = max(10_000, int(os.environ.get("CREDITSDK_FUZZ_EXAMPLES", "0") or 0))

settings.register_profile(
    "creditsdk-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # fresh examples every run; failures print their reproducer
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
