"""``python -m creditsdk`` works like ``creditsdk``."""

import sys

from .cli import main

sys.exit(main())
