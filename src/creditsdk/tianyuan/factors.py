"""The JRZQ9E2A factor catalog, bucket tables and the decoder.

The catalog (``data/factors.csv``) lists the factors whose meaning is documented, with their
provenance. Bucket tables are *not* public (they live in each lender's contract appendix): none
ship as defaults. Load yours with [`load_bucket_tables`][] (TOML or CSV, validated on load);
``data/sandbox_bucket_tables.toml`` is a complete but SYNTHETIC table for the Sandbox only.

Decoding is memoised per (factor, raw string) for each [`BucketTables`][]: a factor object is
immutable and a pure function of those two, so a full ~360-factor payload decodes at dictionary
lookup speed once the common values have been seen.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import ConfigurationError, ResponseIntegrityError
from ._values import BOUNDS, Factor, FactorStatus, FactorValue, Range

__all__ = [
    "KINDS",
    "SANDBOX_BUCKET_TABLES",
    "BucketTableError",
    "BucketTables",
    "CatalogEntry",
    "catalog",
    "decode_factors",
    "load_bucket_tables",
]

KINDS = frozenset(
    {"count_bucket", "amount_bucket", "flag", "ratio_score", "model_score", "dictionary", "unknown"}
)
_BUCKET_KINDS = frozenset({"count_bucket", "amount_bucket", "dictionary", "unknown"})
_CODE_RE = re.compile(r"[A-Za-z0-9_]+")
# The package ships as plain files (a wheel): the data folder is a path next to this module
# (importlib.resources, ~1 ms at import, gives the same answer).
_DATA = Path(__file__).with_name("data")

#: The synthetic tables that decode Sandbox payloads (never a real contract's).
SANDBOX_BUCKET_TABLES = _DATA / "sandbox_bucket_tables.toml"


@attrs.frozen(slots=True)
class CatalogEntry:
    """What is known about one factor key, and from where (``provenance``)."""

    code: str
    label_zh: str | None
    label_en: str | None
    kind: str
    provenance: str
    note: str = ""


def _read_catalog(text: str, source: str) -> dict[str, CatalogEntry]:
    import csv  # the tables and the catalog are read on first use, not at import

    out: dict[str, CatalogEntry] = {}
    for lineno, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        kind = row["kind"]
        if kind not in KINDS or not _CODE_RE.fullmatch(row["code"] or ""):
            raise ConfigurationError(f"{source} line {lineno}: bad catalog row")  # pragma: no cover
        out[row["code"]] = CatalogEntry(
            row["code"],
            row["label_zh"] or None,
            row["label_en"] or None,
            kind,
            row["provenance"],
            row.get("note") or "",
        )
    return out


@functools.cache
def catalog() -> Mapping[str, CatalogEntry]:
    """The package's factor catalog (loaded once, on first use)."""
    text = (_DATA / "factors.csv").read_text(encoding="utf-8")
    return _read_catalog(text, "factors.csv")


@functools.cache
def sandbox_catalog() -> Mapping[str, CatalogEntry]:
    """Every key the Sandbox emits, most with provenance ``"sandbox-synthetic"``."""
    text = (_DATA / "sandbox_factors.csv").read_text(encoding="utf-8")
    return _read_catalog(text, "sandbox_factors.csv")


class BucketTableError(ConfigurationError):
    """A bucket-table file is unusable. ``path``, ``where`` (row or entry) and ``problem``."""

    def __init__(self, path: str, where: str, problem: str) -> None:
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")
        self.path = path
        self.where = where
        self.problem = problem


_CACHE_LIMIT = 100_000  # decoded (factor, raw) pairs kept per tables object


class BucketTables:
    """Bucket code → [`Range`][creditsdk.tianyuan.Range], per factor code. Immutable.

    ``tables`` (read-only mappings), ``name`` and ``source`` never change once built, and no
    attribute can be set. Decoded factors are memoised per tables object (every value the
    tables and the catalog can name is decoded once, at load; other values are remembered up
    to a bound) -- except for the shared `BucketTables.empty()`
    tables, which remember nothing after they are built, so a process-wide value never grows.
    """

    __slots__ = ("_cache", "_cached", "_limit", "name", "source", "tables")

    tables: Mapping[str, Mapping[str, Range]]
    name: str | None
    source: str | None
    _cache: dict[str, dict[str, Factor]]
    _cached: int
    _limit: int

    def __init__(
        self,
        tables: Mapping[str, Mapping[str, Range]],
        *,
        name: str | None = None,
        source: str | None = None,
    ) -> None:
        init = object.__setattr__
        init(
            self,
            "tables",
            MappingProxyType(
                {code: MappingProxyType(dict(buckets)) for code, buckets in tables.items()}
            ),
        )
        init(self, "name", name)
        init(self, "source", source)
        init(self, "_cache", {})
        init(self, "_cached", 0)
        init(self, "_limit", _CACHE_LIMIT)
        self._prime()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"BucketTables is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"BucketTables is immutable: cannot delete {name!r}")

    def _prime(self) -> None:
        """Decode every value these tables and the catalog can name, once, at load time.

        Afterwards a payload decodes by lookups only, even the first one; what remains for the
        slow path is scores (one value per applicant) and keys nobody catalogued.
        """
        cat = catalog()
        for code in {*cat, *self.tables}:
            entry = cat.get(code)
            kind = entry.kind if entry is not None else "unknown"
            values = [""]
            if kind == "flag":
                values += ["0", "1"]
            elif kind == "model_score":
                values.append("-1")
            elif kind in _BUCKET_KINDS:
                values += list(self.tables.get(code, ()))
            for value in values:
                self._remember(code, value, _decode_one(code, value, self))

    def _remember(self, code: str, value: str, factor: Factor) -> None:
        self._cache.setdefault(code, {})[value] = factor
        object.__setattr__(self, "_cached", self._cached + 1)

    @classmethod
    def empty(cls) -> BucketTables:
        """No tables: every bucket code decodes to ``no_table``. One shared, immutable value
        (built on first use) that keeps no memo beyond what it primed: it never grows."""
        return _empty()

    def __contains__(self, code: object) -> bool:
        return code in self.tables

    def __len__(self) -> int:
        return len(self.tables)

    def get(self, code: str) -> Mapping[str, Range] | None:
        return self.tables.get(code)

    def merged(self, other: BucketTables) -> BucketTables:
        """These tables with ``other``'s added (``other`` wins for a factor in both)."""
        return BucketTables(
            {**self.tables, **other.tables},
            name=" + ".join(n for n in (self.name, other.name) if n) or None,
        )

    def __repr__(self) -> str:
        return f"BucketTables(name={self.name!r}, factors={len(self.tables)})"


@functools.cache
def _empty() -> BucketTables:
    tables = BucketTables({}, name=None)
    # Shared by every client and report without tables: primed once, then read-only.
    object.__setattr__(tables, "_limit", 0)
    return tables


# -- decoding -------------------------------------------------------------------------------


def _decode_one(code: str, raw: str, tables: BucketTables) -> Factor:
    factor = _decode_untabled(code, raw)
    if factor.status != "no_table":
        return factor
    table = tables.tables.get(code)
    if table is None:
        return factor
    rng = table.get(raw)
    if rng is None:
        return attrs.evolve(factor, status="unrecognized")
    return attrs.evolve(factor, value=rng, status="decoded")


@functools.lru_cache(maxsize=16_384)
def _decode_untabled(code: str, raw: str) -> Factor:
    """What ``raw`` decodes to without bucket tables: a pure function of (code, raw) and the
    package catalog, so one bounded cache serves every tables object (and the shared empty
    tables, which keep no memo of their own)."""
    entry = catalog().get(code)
    if entry is None:
        label = label_en = provenance = None
        kind = "unknown"
    else:
        label, label_en, kind, provenance = (
            entry.label_zh,
            entry.label_en,
            entry.kind,
            entry.provenance,
        )

    def make(value: FactorValue, status: FactorStatus) -> Factor:
        return Factor(code, raw, value, status, label, label_en, kind, provenance)

    if raw == "":
        return make(None, "no_record")
    if kind == "flag":
        if raw in ("0", "1"):
            return make(raw == "1", "decoded")
        return make(None, "unrecognized")
    if kind == "ratio_score":
        try:
            ratio = float(raw)
        except ValueError:
            return make(None, "unrecognized")
        if math.isfinite(ratio) and 0.0 <= ratio <= 1.0:
            return make(ratio, "decoded")
        return make(None, "unrecognized")
    if kind == "model_score":
        if raw.strip() == "-1":
            return make(None, "not_hit")
        try:
            number = float(raw)
        except ValueError:
            return make(None, "unrecognized")
        if number.is_integer() and 350 <= number <= 950:
            return make(int(number), "decoded")
        return make(None, "unrecognized")
    return make(None, "no_table")  # a bucket code: what it means is in the tables, if any


def _as_raw_string(code: object, value: object) -> tuple[str, str]:
    if not isinstance(code, str):
        raise ResponseIntegrityError(f"factor key {code!r} is not a string")
    if isinstance(value, str):
        return code, value
    if value is None:
        return code, ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # [U] the provider documents strings; tolerate a bare number rather than fail a paid call.
        return code, repr(value) if isinstance(value, float) else str(value)
    raise ResponseIntegrityError(f"factor {code} is a {type(value).__name__}, not a string")


def _fill(
    raw: Mapping[Any, Any],
    keys: Iterable[Any],
    tables: BucketTables,
    raw_out: dict[str, str],
    out: dict[str, Factor],
) -> None:
    """Decode (and remember) the pairs of ``keys`` into ``raw_out`` / ``out``."""
    cache = tables._cache
    room = min(tables._limit, _CACHE_LIMIT) - tables._cached  # memo entries left (0: none)
    for key in keys:
        value = raw[key]
        if type(key) is str and type(value) is str:
            code, text = key, value
        else:
            code, text = _as_raw_string(key, value)
        per = cache.get(code)
        found = per.get(text) if per is not None else None
        if found is None:
            found = _decode_one(code, text, tables)
            if room > 0:
                tables._remember(code, text, found)
                room -= 1
        raw_out[code] = text
        out[code] = found


_NO_VALUES: Mapping[str, Factor] = {}


def decode_factors(
    raw: Mapping[Any, Any], tables: BucketTables | None = None
) -> tuple[dict[str, str], dict[str, Factor]]:
    """Decode a flat JRZQ9E2A payload: returns (raw strings, Factor per key), in payload order.

    Raises [`ResponseIntegrityError`][] if ``raw`` is not a flat object of strings (bare
    numbers and ``null`` are tolerated and kept as their string form / ``""``).
    """
    if not isinstance(raw, Mapping):
        raise ResponseIntegrityError(
            f"JRZQ9E2A data is a {type(raw).__name__}, not an object of factors"
        )
    tables = tables if tables is not None else _empty()
    cache = tables._cache
    try:
        # Fast path: every (key, value) seen before. Only str keys/values are ever cached, so a
        # hit also proves the pair is well-formed.
        hits = {k: cache[k][v] for k, v in raw.items()}
    except (KeyError, TypeError):
        pass
    else:
        return dict(raw), hits
    known = cache.get
    try:
        # A new pair (scores differ per applicant) or a malformed one: the hits in one more C
        # pass, then only the misses (None) decoded one by one, not the whole payload again.
        factors: dict[Any, Factor | None] = {k: known(k, _NO_VALUES).get(v) for k, v in raw.items()}
    except TypeError:  # an unhashable key or value: the per-key path names it
        raw_out: dict[str, str] = {}
        out: dict[str, Factor] = {}
        _fill(raw, raw, tables, raw_out, out)
        return raw_out, out
    missing = [k for k, f in factors.items() if f is None]
    raw_out = dict(raw)
    if missing:
        _fill(raw, missing, tables, raw_out, factors)  # type: ignore[arg-type]
    return raw_out, factors  # type: ignore[return-value]  # no None is left


# -- loading tables -------------------------------------------------------------------------


def _number(value: object, path: str, where: str, what: str) -> int | float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BucketTableError(path, where, f"{what} must be a number, not a boolean")
    if isinstance(value, (int, float)):
        number: int | float = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise BucketTableError(path, where, f"{what} {value!r} is not a number") from None
    else:
        raise BucketTableError(path, where, f"{what} must be a number, not {type(value).__name__}")
    if isinstance(number, float) and not math.isfinite(number):
        raise BucketTableError(path, where, f"{what} must be finite (leave it empty for unbounded)")
    return number


def _make_range(
    path: str,
    where: str,
    low: object,
    high: object,
    bounds: object,
    unit: object,
    label: object,
) -> Range:
    lo = _number(low, path, where, "low")
    hi = _number(high, path, where, "high")
    if not isinstance(bounds, str) or bounds not in BOUNDS:
        raise BucketTableError(path, where, f"bounds must be one of {', '.join(BOUNDS)}")
    if lo is None and bounds[0] == "[":
        raise BucketTableError(path, where, "an unbounded low end cannot be inclusive '['")
    if hi is None and bounds[1] == "]":
        raise BucketTableError(path, where, "an unbounded high end cannot be inclusive ']'")
    if lo is not None and hi is not None and (lo > hi or (lo == hi and bounds != "[]")):
        raise BucketTableError(path, where, f"low {lo} is not below high {hi}")
    if unit is not None and not isinstance(unit, str):
        raise BucketTableError(path, where, "unit must be text")
    if label is not None and not isinstance(label, str):
        raise BucketTableError(path, where, "label must be text")
    return Range(lo, hi, bounds, unit or None, label or "")


def _check_factor_code(path: str, where: str, code: object) -> str:
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise BucketTableError(path, where, f"factor code {code!r} is not a factor key")
    return code


def _check_bucket_code(path: str, where: str, code: object) -> str:
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    if not isinstance(code, str) or not code or code != code.strip():
        raise BucketTableError(path, where, f"bucket code {code!r} must be non-empty text")
    return code


def _check_overlaps(path: str, factor: str, buckets: Mapping[str, Range]) -> None:
    ordered = sorted(buckets.items(), key=lambda kv: -math.inf if kv[1].low is None else kv[1].low)
    for (code_a, a), (code_b, b) in itertools.pairwise(ordered):
        # Sorted by low end (unbounded first): b unbounded below means both are; a unbounded
        # above swallows b.
        touching = (
            b.low is None
            or a.high is None
            or a.high > b.low
            or (a.high == b.low and a.inclusivity[1] == "]" and b.inclusivity[0] == "[")
        )
        if touching:
            raise BucketTableError(path, factor, f"buckets {code_a} and {code_b} overlap")


def _load_csv(path: str) -> BucketTables:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BucketTableError(path, "", f"cannot be read ({type(exc).__name__})") from None
    import csv

    reader = csv.DictReader(text.splitlines())
    required = {"factor", "code", "low", "high", "bounds"}
    missing = required - set(reader.fieldnames or ())
    if missing:
        raise BucketTableError(path, "header", f"missing column(s) {', '.join(sorted(missing))}")
    tables: dict[str, dict[str, Range]] = {}
    for lineno, row in enumerate(reader, start=2):
        where = f"row {lineno}"
        if None in row or any(v is None for v in row.values()):
            raise BucketTableError(path, where, "wrong number of columns")
        factor = _check_factor_code(path, where, row["factor"].strip())
        code = _check_bucket_code(path, where, row["code"])
        rng = _make_range(
            path,
            where,
            row["low"],
            row["high"],
            row["bounds"].strip(),
            (row.get("unit") or "").strip() or None,
            (row.get("label") or "").strip() or None,
        )
        buckets = tables.setdefault(factor, {})
        if code in buckets:
            raise BucketTableError(path, where, f"bucket {code} of {factor} is defined twice")
        buckets[code] = rng
    if not tables:
        raise BucketTableError(path, "", "defines no bucket tables")
    for factor, buckets in tables.items():
        _check_overlaps(path, factor, buckets)
    return BucketTables(tables, name=Path(path).stem, source=path)


def _toml_buckets(path: str, where: str, spec: object) -> dict[str, Range]:
    if not isinstance(spec, Mapping):
        raise BucketTableError(path, where, "must be a table with 'buckets'")
    unknown = set(spec) - {"unit", "buckets", "label"}
    if unknown:
        raise BucketTableError(path, where, f"unknown key(s) {', '.join(sorted(unknown))}")
    items = spec.get("buckets")
    if not isinstance(items, list) or not items:
        raise BucketTableError(path, where, "needs a non-empty 'buckets' list")
    unit = spec.get("unit")
    out: dict[str, Range] = {}
    for i, item in enumerate(items, start=1):
        here = f"{where}.buckets[{i}]"
        if not isinstance(item, Mapping):
            raise BucketTableError(path, here, "must be an inline table")
        extra = set(item) - {"code", "low", "high", "bounds", "unit", "label"}
        if extra:
            raise BucketTableError(path, here, f"unknown key(s) {', '.join(sorted(extra))}")
        if "code" not in item or "bounds" not in item:
            raise BucketTableError(path, here, "needs 'code' and 'bounds'")
        code = _check_bucket_code(path, here, item["code"])
        if code in out:
            raise BucketTableError(path, here, f"bucket {code} is defined twice")
        out[code] = _make_range(
            path,
            here,
            item.get("low"),
            item.get("high"),
            item["bounds"],
            item.get("unit", unit),
            item.get("label"),
        )
    return out


def _load_toml(path: str) -> BucketTables:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise BucketTableError(path, "", f"cannot be read ({type(exc).__name__})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BucketTableError(path, "", f"is not valid TOML ({exc})") from None
    unknown = set(doc) - {"meta", "tables", "factors"}
    if unknown:
        raise BucketTableError(path, "", f"unknown top-level key(s) {', '.join(sorted(unknown))}")
    named: dict[str, dict[str, Range]] = {}
    raw_named = doc.get("tables", {})
    if not isinstance(raw_named, Mapping):
        raise BucketTableError(path, "tables", "must be a table")
    for name, spec in raw_named.items():
        named[name] = _toml_buckets(path, f"tables.{name}", spec)
    raw_factors = doc.get("factors", {})
    if not isinstance(raw_factors, Mapping):
        raise BucketTableError(path, "factors", "must be a table")
    tables: dict[str, dict[str, Range]] = {}
    for factor, spec in raw_factors.items():
        where = f"factors.{factor}"
        _check_factor_code(path, where, factor)
        if isinstance(spec, str):
            if spec not in named:
                raise BucketTableError(path, where, f"refers to undefined table {spec!r}")
            tables[factor] = named[spec]
        else:
            tables[factor] = _toml_buckets(path, where, spec)
    if not tables:
        raise BucketTableError(path, "", "defines no factor tables (a [factors] section)")
    for name, buckets in named.items():
        _check_overlaps(path, f"tables.{name}", buckets)
    for factor, buckets in tables.items():
        _check_overlaps(path, f"factors.{factor}", buckets)
    meta = doc.get("meta", {})
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return BucketTables(
        tables, name=name if isinstance(name, str) else Path(path).stem, source=path
    )


def load_bucket_tables(path: str | os.PathLike[str]) -> BucketTables:
    """Load your contract's bucket tables from a ``.toml`` or ``.csv`` file (see docs/tianyuan.md).

    The file is validated as a whole; a problem raises [`BucketTableError`][] (a
    ConfigurationError) naming the file, the row or entry, and what is wrong.
    """
    p = os.fspath(path)
    suffix = Path(p).suffix.lower()
    if suffix == ".toml":
        return _load_toml(p)
    if suffix == ".csv":
        return _load_csv(p)
    raise BucketTableError(p, "", "bucket tables must be a .toml or .csv file")
