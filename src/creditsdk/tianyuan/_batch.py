"""``tianyuan.multi_lending`` for the batch runner (declared in this package's spec)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._core.consent import Consent
from .._core.identity import Applicant
from ..batch._schema import Column, FactorLayout
from ..batch.operations import ApplicantOperation, Scalar, row_cells
from ._protocol import inputs_multi_lending

__all__ = ["MultiLending"]


class MultiLending(ApplicantOperation):
    """Tianyuan JRZQ9E2A: every factor of the catalog and of the loaded bucket tables is a fixed
    set of columns (bucket code, ``_low``, ``_high``, ``_mid``; flags 0/1; scores and their
    status), whatever the answers hold."""

    name = "tianyuan.multi_lending"
    provider = "tianyuan"
    client_class = "creditsdk.tianyuan.client:AsyncTianyuanClient"

    def __init__(self) -> None:
        self._tables: Any = None
        self._tables_from: Any = None

    def prepare(self, row: Mapping[str, str]) -> Applicant:
        # The rules of the client's own call (_protocol): one place validates a person.
        return inputs_multi_lending(**row_cells(row, self.columns)).applicant

    def _resolve_tables(self, client_kwargs: dict[str, Any], sandbox: Any) -> None:
        # Against the Sandbox, decode with the Sandbox's own bucket tables unless told otherwise
        # (against the provider, pass your contract's: client_options={"bucket_tables": path}).
        if sandbox is not None and "bucket_tables" not in client_kwargs:
            path = getattr(getattr(sandbox, "tianyuan", None), "bucket_tables_path", None)
            if path is not None:
                client_kwargs["bucket_tables"] = path
        given = client_kwargs.get("bucket_tables")
        if given is None:
            return
        if self._tables is not None and self._tables_from is given:
            client_kwargs["bucket_tables"] = self._tables
            return
        from .factors import BucketTables, load_bucket_tables

        tables = given if isinstance(given, BucketTables) else load_bucket_tables(given)
        self._tables, self._tables_from = tables, given
        client_kwargs["bucket_tables"] = tables

    def layout(self, client_options: Mapping[str, Any], *, sandbox: Any = None) -> FactorLayout:
        from .models import row_layout

        options = dict(client_options)
        self._resolve_tables(options, sandbox)
        rows = row_layout(self._tables)
        return FactorLayout(
            columns=tuple(
                Column(c["name"], c["dtype"], c["role"], c["factor"], c["part"])
                for c in rows.columns
            ),
            factors=tuple(rows.factors),
            bucket_tables=rows.bucket_tables_info(),
        )

    def make_client(self, *, sandbox: Any = None, **client_kwargs: Any) -> Any:
        self._resolve_tables(client_kwargs, sandbox)
        return super().make_client(sandbox=sandbox, **client_kwargs)

    async def call(
        self, client: Any, prepared: Applicant, consent: Consent | None, *, timeout: Any, retry: Any
    ) -> Any:
        return await client.multi_lending(prepared, consent=consent, timeout=timeout, retry=retry)

    def status(self, result: Any) -> str:
        has_data = getattr(result, "has_data", None)
        if has_data is None:
            has_data = any(str(v).strip() for v in getattr(result, "raw", {}).values())
        return "hit" if has_data else "no_data"

    def flatten(self, result: Any) -> dict[str, Scalar]:
        from .models import row_layout

        tables = self._tables if self._tables is not None else getattr(result, "tables", None)
        cells, effective = row_layout(tables).cells(result)
        out: dict[str, Scalar] = dict(cells)
        out["effective"] = int(effective and self.status(result) == "hit")
        return out
