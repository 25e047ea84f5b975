"""``python -m creditsdk.batch …``: the same as ``creditsdk batch …``."""

import sys

from .._cli.batch import main

sys.exit(main())
