"""The base every provider's sandbox derives from: one ``fail_next``, one way to make clients,
scenario pins, a balance and the ledger — the same for every provider.

A provider's ``sandbox.py`` subclasses `ProviderSandboxBase`, names its client classes
(`client_classes`), the credentials a client needs (`client_defaults`), and answers its
routes; the base keeps the state every provider has, under one lock.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import attrs

from ..errors import ConfigurationError
from ._app import LedgerEntry, Route, SandboxContext, synthetic_run_id

__all__ = ["InjectedFailure", "ProviderSandboxBase"]

ClientT = TypeVar("ClientT")
AsyncClientT = TypeVar("AsyncClientT")


@attrs.frozen
class InjectedFailure:
    """One provider answer queued by `ProviderSandboxBase.fail_next`: ``code`` as the provider
    spells it (normalised by the provider), ``message`` its text (``None``: the provider's)."""

    code: int | str
    message: str | None = None


class ProviderSandboxBase(Generic[ClientT, AsyncClientT]):
    """What every provider's sandbox (``sb.<provider>``) has.

    - ``client(**overrides)`` / ``async_client(**overrides)``: a client wired to the Sandbox; any
      keyword of the client's constructor overrides the Sandbox's default for it (``http_client=``
      of your own replaces the in-process wiring).
    - ``fail_next(code, *, times=1, message=None)``: the next ``times`` authenticated calls answer
      with the provider's ``code`` (never billed).
    - ``pin(key, scenario)`` / ``unpin(key)`` / ``pinned(key)``: fix the scenario a key (an ID
      number, a card number) answers with; `scenarios` lists the provider's.
    - ``balance``: billable calls left (``None``: unlimited; option ``balance``); when it is used
      up the provider answers its "no balance" refusal, not billed.
    - ``ledger()``: this provider's billed calls, oldest first.
    - ``run_id``: part of every synthetic transaction id (random unless option ``run_id``).
    """

    #: The provider's name (``sb.<name>``).
    name: str
    #: The scenarios `pin` accepts (empty: the provider has none).
    scenarios: ClassVar[tuple[str, ...]] = ()
    #: Billable calls a new sandbox allows (``None``: unlimited); option ``balance`` overrides it.
    default_balance: ClassVar[int | None] = None
    #: P(bad) per scenario for the synthetic applicants of ``creditsdk sandbox applicants``
    #: (empty: this provider's scenarios do not label applicants).
    applicant_bad_rates: ClassVar[Mapping[str, float]] = {}
    #: Bytes of randomness in `run_id`.
    run_id_bytes: ClassVar[int] = 4

    def __init__(self, ctx: SandboxContext) -> None:
        self._ctx = ctx
        self._lock = threading.RLock()
        self._failures: deque[InjectedFailure] = deque()
        self._pins: dict[str, str] = {}
        self._serials = itertools.count(1)
        self._balance: int | None = _checked_balance(
            ctx.options.get("balance", self.default_balance)
        )
        self._initial_balance = self._balance
        self.run_id: str = str(
            ctx.options.get("run_id") or synthetic_run_id(self.run_id_bytes)
        ).upper()

    # -- what a provider defines ---------------------------------------------------------------

    def routes(self) -> Iterable[Route]:
        """The provider's endpoints."""
        raise NotImplementedError

    def client_classes(self) -> tuple[type[ClientT], type[AsyncClientT]]:
        """The provider's (sync, async) client classes (imported when first asked for)."""
        raise NotImplementedError

    def client_defaults(self) -> dict[str, Any]:
        """Constructor keywords that point a client at this sandbox: credentials and URLs."""
        raise NotImplementedError

    def _failure(self, code: int | str, message: str | None) -> InjectedFailure:
        """Check and normalise a `fail_next` code (raise ConfigurationError for one that is not
        a refusal of this provider)."""
        return InjectedFailure(code, message)

    def reset(self) -> None:
        """Back to how the Sandbox started this provider: no queued failures, no pins, the
        starting balance. (Keys, users and the serial counter stay: transaction ids never
        repeat.)"""
        with self._lock:
            self._failures.clear()
            self._pins.clear()
            self._balance = self._initial_balance

    # -- clients -------------------------------------------------------------------------------

    def client_options(self, *, asynchronous: bool = False, **overrides: Any) -> dict[str, Any]:
        """The keywords `client` passes: `client_defaults`, the Sandbox's wiring, ``overrides``."""
        options = self.client_defaults()
        if "http_client" not in overrides:  # a caller's own client replaces the wiring
            options.update(self._ctx.client_options(asynchronous=asynchronous))
        options.update(overrides)
        return options

    def client(self, **overrides: Any) -> ClientT:
        """A sync client wired to the Sandbox; ``overrides`` win over the Sandbox's defaults."""
        sync_class, _ = self.client_classes()
        return sync_class(**self.client_options(asynchronous=False, **overrides))

    def async_client(self, **overrides: Any) -> AsyncClientT:
        """The same for the async client."""
        _, async_class = self.client_classes()
        return async_class(**self.client_options(asynchronous=True, **overrides))

    # -- injected failures ---------------------------------------------------------------------

    def fail_next(self, code: int | str, /, *, times: int = 1, message: str | None = None) -> None:
        """The next ``times`` authenticated calls answer with the provider's ``code`` (and
        ``message``, else the provider's own text); they are not billed."""
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ConfigurationError(f"fail_next(times=...) must be an integer >= 1, not {times!r}")
        if message is not None and not isinstance(message, str):
            raise ConfigurationError("fail_next(message=...) must be a string")
        failure = self._failure(code, message)
        with self._lock:
            self._failures.extend([failure] * times)

    @property
    def pending_failures(self) -> list[InjectedFailure]:
        """Failures queued by `fail_next` and not yet answered, next first."""
        with self._lock:
            return list(self._failures)

    def _next_failure(self) -> InjectedFailure | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    # -- scenarios -----------------------------------------------------------------------------

    def pin(self, key: str, scenario: str) -> None:
        """Make ``key`` answer with ``scenario`` (one of `scenarios`)."""
        if not self.scenarios:
            raise ConfigurationError(f"the {self.name} sandbox has no scenarios to pin")
        if scenario not in self.scenarios:
            raise ConfigurationError(
                f"unknown scenario {scenario!r} for the {self.name} sandbox; "
                f"choose from {self.scenarios}"
            )
        with self._lock:
            self._pins[_pin_key(key)] = scenario

    def unpin(self, key: str) -> None:
        with self._lock:
            self._pins.pop(_pin_key(key), None)

    def pinned(self, key: str) -> str | None:
        """The scenario ``key`` is pinned to, if any."""
        with self._lock:
            return self._pins.get(_pin_key(key))

    def scenario_for(self, key: str) -> str:
        """The scenario ``key`` answers with: pinned, or the provider's own draw for it."""
        return self.pinned(key) or self._drawn_scenario(_pin_key(key))

    def _drawn_scenario(self, key: str) -> str:
        """The scenario of an unpinned ``key`` (upper-cased, stripped)."""
        raise ConfigurationError(f"the {self.name} sandbox draws no scenario from a key alone")

    # -- balance, billing, ledger --------------------------------------------------------------

    @property
    def balance(self) -> int | None:
        """Billable calls left (``None``: unlimited)."""
        with self._lock:
            return self._balance

    @balance.setter
    def balance(self, value: int | None) -> None:
        checked = _checked_balance(value)
        with self._lock:
            self._balance = checked

    def _spend(self) -> bool:
        """Take one billable call off `balance`; False (nothing taken) once it is used up."""
        with self._lock:
            if self._balance is None:
                return True
            if self._balance < 1:
                return False
            self._balance -= 1
            return True

    def _next_serial(self) -> int:
        with self._lock:
            return next(self._serials)

    def _bill(self, operation: str, transaction_id: str, **details: Any) -> None:
        """Record a billed call. Keep personal data out of ``details`` (mask it)."""
        self._ctx.record(operation, transaction_id, details)

    def ledger(self) -> list[LedgerEntry]:
        """This provider's billed calls so far, oldest first."""
        return self._ctx.ledger()


def _pin_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ConfigurationError("a pinned key must be a non-empty string")
    return key.strip().upper()


def _checked_balance(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"sandbox balance must be an integer >= 0 or None, not {value!r}")
    return value
