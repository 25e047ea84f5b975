"""UnionPay FireEye (火眼): transaction authentication and the UnionPay model score.

```python
from creditsdk.fireeye import FireEyeClient, AsyncFireEyeClient
```

See docs/fireeye.md for the protocol, the options and what is known versus assumed.
"""

from ._guard import CardGuard, CardGuardError
from ._protocol import FireEyeConfig
from ._spec import SPEC as SPEC  # what central code reads (creditsdk._spec)
from .client import AsyncFireEyeClient, FireEyeClient
from .models import FireEyeScore, TransactionCheck

__all__ = [
    "AsyncFireEyeClient",
    "CardGuard",
    "CardGuardError",
    "FireEyeClient",
    "FireEyeConfig",
    "FireEyeScore",
    "TransactionCheck",
]
