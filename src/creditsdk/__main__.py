"""``python -m creditsdk`` works like ``creditsdk``."""

import sys

from ._cli import main

sys.exit(main())
