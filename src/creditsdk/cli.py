"""Deprecated: the ``creditsdk`` command lives in ``creditsdk._cli`` (run it as ``creditsdk`` or
``python -m creditsdk``). This alias stays for one release, for scripts and installed entry
points that still name ``creditsdk.cli:main``."""

from __future__ import annotations

import warnings

from ._cli import build_parser, main, sandbox_description

__all__ = ["build_parser", "main", "sandbox_description"]

warnings.warn(
    "creditsdk.cli is deprecated: run the `creditsdk` command (or python -m creditsdk)",
    DeprecationWarning,
    stacklevel=2,
)
