"""``@FUZZ`` on a test gives it the fuzz profile from conftest.py."""

from __future__ import annotations

from hypothesis import settings

from . import conftest  # noqa: F401 - registers the profile

FUZZ = settings(settings.get_profile("creditsdk-fuzz"))
