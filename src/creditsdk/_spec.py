"""Provider specs: what a provider folder declares about itself, and how central code finds them.

Every provider package ``creditsdk.<name>`` has a module ``_spec.py`` whose ``SPEC`` is a
[`ProviderSpec`][creditsdk._spec.ProviderSpec] (and re-exports it from its ``__init__``). The
batch runner, the ``creditsdk`` command, the demo and the test matrices read the specs returned by
[`discover_specs`][creditsdk._spec.discover_specs]; none of them names a provider.

A spec holds *references* (``"module:attribute.path"`` strings) rather than the objects, so that
reading the specs imports nothing heavy: a reference is imported when it is first used.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._core.consent import Consent
    from ._core.identity import Applicant

__all__ = [
    "DemoStep",
    "MatrixOperation",
    "ProviderSpec",
    "Sample",
    "discover_specs",
    "resolve",
    "spec_for",
]

#: ``"package.module:attribute"`` or ``"package.module:Class.attribute"``, imported on first use.
Ref = str


def resolve(ref: Ref | Callable[..., Any]) -> Any:
    """The object a reference names (a callable is returned as it is)."""
    if not isinstance(ref, str):
        return ref
    module_name, sep, path = ref.partition(":")
    if not sep or not module_name or not path:
        raise ConfigurationError(f"bad reference {ref!r}: expected 'package.module:attribute'")
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"{ref!r}: cannot import {module_name} ({exc})") from exc
    for part in path.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise ConfigurationError(f"{ref!r}: {module_name} has no {path!r}") from None
    return value


@attrs.frozen(slots=True)
class Sample:
    """The inputs the demo, the fault matrix and the leak scan play with (synthetic values)."""

    applicant: Applicant
    consent: Consent
    #: a card number that passes the Luhn check
    card_no: str = "6222020000000000000"
    trans_date: _dt.date = _dt.date(2025, 3, 14)
    amount: Decimal = Decimal("212.00")


def _no_setup(sandbox: Any, sample: Sample) -> Mapping[str, Any]:
    return {}


@attrs.frozen(slots=True)
class MatrixOperation:
    """One operation as the fault matrix and the leak scan play it against a Sandbox.

    ``setup(sandbox, sample)`` runs before any fault is armed and returns what the call needs
    beyond the sample (e.g. a fresh authorization); ``call(client, sample, state, **options)``
    makes one call with a client the Sandbox wired (``options``: ``timeout``, ``retry``). The
    same ``call`` serves a sync client (it returns the result) and an async one (it returns the
    awaitable). ``skip_faults``: injected faults that cannot apply (e.g. no signature to break).
    """

    name: str
    billed: bool
    idempotent: bool
    call: Callable[..., Any]
    setup: Callable[[Any, Sample], Mapping[str, Any]] = _no_setup
    skip_faults: frozenset[str] = frozenset()


@attrs.frozen(slots=True)
class DemoStep:
    """A provider's part of ``creditsdk demo``.

    ``collect(sandbox, sample, **options)`` runs the provider's whole flow against the Sandbox
    and returns its section of the summary as plain, masked data (what ``--json`` prints);
    ``render_plain(section, write)`` and ``render_rich(section, console)`` show that section.
    """

    collect: Callable[..., dict[str, Any]]
    render_plain: Callable[[Mapping[str, Any], Callable[[str], Any]], None]
    render_rich: Callable[[Mapping[str, Any], Any], None]


@attrs.frozen(slots=True)
class ProviderSpec:
    """Everything central code needs to know about one provider, by reference.

    ``name`` is the provider's short name everywhere (Sandbox attribute, ledger, audit events,
    batch operation prefix, ``creditsdk query NAME``). References (``"module:attr"``):
    ``client`` / ``async_client`` (the client classes), ``config_from_env`` (builds the
    provider's config from the ``CREDITSDK_<NAME>_*`` variables), ``sandbox``
    (``create_sandbox(ctx)``, the Sandbox plug-in), ``batch_operations`` (operation name →
    factory of a ``BatchOperation``), ``commands`` (``add_commands(subparsers)``: the
    ``creditsdk query NAME …`` sub-commands), ``demo`` (the provider's ``creditsdk demo`` step),
    ``matrix`` (a tuple of [`MatrixOperation`][creditsdk._spec.MatrixOperation]).
    """

    name: str
    display_name: str
    client: Ref
    async_client: Ref
    config_from_env: Ref
    sandbox: Ref | None = None
    #: False: the plug-in joins a Sandbox only when asked (``extra_providers``).
    in_default_sandbox: bool = True
    batch_operations: Mapping[str, Ref] = attrs.field(factory=dict)
    #: why the provider offers no batch operation (shown when one is asked for)
    batch_note: str | None = None
    commands: Ref | None = None
    demo: Ref | None = None
    #: sandbox attributes ``creditsdk sandbox serve`` prints (throwaway credentials, URLs)
    sandbox_fields: tuple[str, ...] = ()
    #: sandbox attributes holding PEM keys that ``sandbox serve --keys-dir`` writes to files
    sandbox_key_files: tuple[str, ...] = ()
    #: sandbox attributes that are secrets a client holds (the leak scan looks for them)
    sandbox_secrets: tuple[str, ...] = ()
    matrix: Ref | None = None
    #: where the provider comes in listings and the demo (then by name)
    order: int = 100
    #: other names the provider goes by (no module outside its folder may use them either)
    aliases: tuple[str, ...] = ()
    #: the provider's own wire field names, which stay in its folder (``_protocol.py`` and
    #: ``models.py``); one ending in ``_`` is a prefix (``xyp_``)
    wire_names: tuple[str, ...] = ()

    # -- resolved on use ------------------------------------------------------------------

    def client_class(self) -> Any:
        return resolve(self.client)

    def async_client_class(self) -> Any:
        return resolve(self.async_client)

    def config_from_env_function(self) -> Callable[[], Any]:
        fn = resolve(self.config_from_env)
        if not callable(fn):
            raise ConfigurationError(f"{self.name}: config_from_env is not callable")
        return fn  # type: ignore[no-any-return]

    def sandbox_factory(self) -> Callable[[Any], Any] | None:
        return None if self.sandbox is None else resolve(self.sandbox)

    def batch_operation_factory(self, operation: str) -> Callable[[], Any]:
        return resolve(self.batch_operations[operation])  # type: ignore[no-any-return]

    def add_commands(self, subparsers: Any) -> None:
        if self.commands is not None:
            resolve(self.commands)(subparsers)

    def demo_step(self) -> DemoStep | None:
        if self.demo is None:
            return None
        step = resolve(self.demo)
        if not isinstance(step, DemoStep):
            raise ConfigurationError(f"{self.name}: {self.demo!r} is not a DemoStep")
        return step

    def matrix_operations(self) -> tuple[MatrixOperation, ...]:
        return () if self.matrix is None else tuple(resolve(self.matrix))


_SPEC_MODULE = "_spec"


def _declares_spec(package_dir: Path) -> bool:
    """Does the package have a ``_spec`` module assigning ``SPEC``? Read, not imported: other
    packages may have a ``_spec`` module of their own that is no provider's."""
    path = package_dir / f"{_SPEC_MODULE}.py"
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(r"^SPEC\b", source, re.MULTILINE) is not None


@functools.cache
def discover_specs() -> tuple[ProviderSpec, ...]:
    """Every installed provider's spec: each ``creditsdk.<pkg>`` package whose ``_spec`` module
    assigns ``SPEC`` (other packages, and private ones, are not providers). Cached; the order is
    the specs' ``order``, then their names.

    A provider package that fails to import, or whose ``SPEC`` is missing or not a
    ``ProviderSpec``, raises [`ConfigurationError`][creditsdk.errors.ConfigurationError]
    naming the package: a broken provider is not silently left out.
    """
    import creditsdk

    specs: dict[str, ProviderSpec] = {}
    for root in creditsdk.__path__:
        for info in pkgutil.iter_modules([root]):
            if not info.ispkg or info.name.startswith("_"):
                continue
            if not _declares_spec(Path(root) / info.name):
                continue
            modname = f"creditsdk.{info.name}.{_SPEC_MODULE}"
            try:
                module = importlib.import_module(modname)
            except Exception as exc:
                raise ConfigurationError(
                    f"provider package creditsdk.{info.name} is broken: importing {modname} "
                    f"failed ({type(exc).__name__}: {exc})"
                ) from exc
            spec = getattr(module, "SPEC", None)
            if not isinstance(spec, ProviderSpec):
                raise ConfigurationError(
                    f"provider package creditsdk.{info.name} is broken: {modname}.SPEC is "
                    f"{type(spec).__name__}, not a ProviderSpec"
                )
            if spec.name in specs:
                raise ConfigurationError(
                    f"provider name {spec.name!r} is declared twice (creditsdk.{info.name})"
                )
            specs[spec.name] = spec
    return tuple(sorted(specs.values(), key=lambda s: (s.order, s.name)))


def spec_for(name: str) -> ProviderSpec:
    """The spec of the provider called ``name``."""
    for spec in discover_specs():
        if spec.name == name:
            return spec
    known = [s.name for s in discover_specs()]
    raise ConfigurationError(f"unknown provider {name!r}; installed: {known}")
