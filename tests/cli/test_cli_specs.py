"""The command line reads the provider specs: a command group per provider, the old module."""

from __future__ import annotations

import importlib
import sys

import pytest

from creditsdk._cli import build_parser, sandbox_description
from creditsdk._spec import discover_specs


def test_query_has_a_command_group_per_provider_spec(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["query", "--help"])
    out = capsys.readouterr().out
    for spec in discover_specs():
        if spec.commands is not None:
            assert spec.name in out
            assert spec.display_name in out


def test_sandbox_serve_prints_exactly_the_fields_each_spec_declares() -> None:
    from creditsdk.sandbox import Sandbox

    specs = {s.name: s for s in discover_specs()}
    with Sandbox() as sb:
        description = sandbox_description(sb)
    assert set(description["providers"]) == set(sb.providers)
    for name, fields in description["providers"].items():
        assert list(fields) == list(specs[name].sandbox_fields)
        for secret in specs[name].sandbox_key_files:
            assert secret not in fields  # PEM keys go to files (--keys-dir), never stdout


def test_the_old_cli_module_warns_and_still_runs(capsys: pytest.CaptureFixture[str]) -> None:
    sys.modules.pop("creditsdk.cli", None)
    with pytest.warns(DeprecationWarning, match="creditsdk.cli is deprecated"):
        old = importlib.import_module("creditsdk.cli")
    assert old.main(["--version"]) == 0
    assert "creditsdk" in capsys.readouterr().out
