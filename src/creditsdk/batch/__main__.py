"""``python -m creditsdk.batch …``: the same as ``creditsdk batch …``."""

import sys

from .cli import main

sys.exit(main())
