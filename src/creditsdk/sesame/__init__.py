"""Sesame (Zhima) credit on the Alipay open platform: RSA2 gateway, user authorization, score.

```python
from creditsdk.sesame import SesameClient

zm = SesameClient(app_id=..., app_private_key=PEM, alipay_public_key=PEM)
```

See docs/sesame.md for the flow (authorization URL → redirect → grant → score) and the code table.
"""

from ._errors import (
    AuthorizationDeniedError,
    AuthorizationRevokedError,
    SesameAuthenticationError,
    SesameProductNotEnabledError,
    SesameProviderError,
    SesameRateLimitedError,
)
from ._protocol import (
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_GATEWAY_URL,
    SCORE_PRODUCT_CODE,
    SesameConfig,
)
from ._spec import SPEC as SPEC  # what central code reads (creditsdk._spec)
from .client import AsyncSesameClient, SesameClient
from .models import Admittance, AuthorizationStatus, Grant, SesameScore, WatchlistResult

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_GATEWAY_URL",
    "SCORE_PRODUCT_CODE",
    "Admittance",
    "AsyncSesameClient",
    "AuthorizationDeniedError",
    "AuthorizationRevokedError",
    "AuthorizationStatus",
    "Grant",
    "SesameAuthenticationError",
    "SesameClient",
    "SesameConfig",
    "SesameProductNotEnabledError",
    "SesameProviderError",
    "SesameRateLimitedError",
    "SesameScore",
    "WatchlistResult",
]
