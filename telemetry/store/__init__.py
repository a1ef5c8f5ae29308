"""Time-series stores behind one interface: DuckDB (embedded default) and PostgreSQL (shared).

Open one by URL with :func:`open_store`:

- ``duckdb:///abs/path/telemetry.duckdb``, ``duckdb:relative/path.duckdb``, or a path ending ``.duckdb``
- ``duckdb://:memory:`` (scratch)
- ``postgresql://user@host:5432/dbname?schema=smartlib`` (``postgres://`` too; ``schema`` optional)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import StoreURLError
from .base import (
    DEAD_LETTER_SCHEMA,
    REJECTION_COUNT_SCHEMA,
    STATUS_SCHEMA,
    Batch,
    CompactResult,
    Store,
    StoreStats,
    WriteResult,
)

__all__ = ["DEAD_LETTER_SCHEMA", "REJECTION_COUNT_SCHEMA", "STATUS_SCHEMA", "Batch", "CompactResult", "Store",
           "StoreStats",
           "WriteResult", "open_store", "redact"]

EXAMPLES = "duckdb:///path/to/telemetry.duckdb, telemetry.duckdb or postgresql://user@host:5432/db?schema=smartlib"


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and status lines)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_store(url: str, *, read_only: bool = False) -> Store:
    """Open (and create the tables of) the store a URL names.

    Parameters
    ----------
    url
        ``duckdb:///path.duckdb``, a ``.duckdb`` path, or ``postgresql://...[?schema=NAME]``.
    read_only
        DuckDB only: open without writing.

    Raises
    ------
    StoreURLError
        When the URL is not one of the supported forms (the message shows examples).
    StoreUnavailableError
        When the store cannot be opened or reached.
    """
    url = url.strip()
    if not url:
        raise StoreURLError(f"empty store URL; give one such as {EXAMPLES}")
    scheme = url.split(":", 1)[0].lower() if "://" in url or url.startswith("duckdb:") else ""
    if scheme == "duckdb":
        rest = url[len("duckdb:"):]
        if rest.startswith("//"):
            rest = rest[2:]
            if rest == ":memory:" or rest == "":
                path = ":memory:"
            elif rest.startswith("/"):
                path = rest
            else:
                raise StoreURLError(f"store URL {url!r}: after duckdb:// comes an absolute path (duckdb:///abs/file.duckdb)"
                                    f" or use duckdb:relative/file.duckdb")
        else:
            path = rest
        if not path:
            raise StoreURLError(f"store URL {url!r} names no DuckDB file")
        from .duckdb import DuckDBStore

        return DuckDBStore(path, read_only=read_only)
    if scheme in ("postgresql", "postgres"):
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        schema = query.pop("schema", None)
        if not parts.hostname and not query.get("host"):
            raise StoreURLError(f"store URL {redact(url)!r} names no host (postgresql://user@host:5432/db)")
        try:
            _ = parts.port
        except ValueError as exc:
            raise StoreURLError(f"store URL {redact(url)!r}: bad port ({exc})") from exc
        conninfo = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))
        from .postgres import PostgresStore

        return PostgresStore(conninfo, schema=schema or None, url=redact(url))
    if not scheme and url.endswith((".duckdb", ".db")):
        from .duckdb import DuckDBStore

        return DuckDBStore(Path(url), read_only=read_only)
    raise StoreURLError(f"store URL {url!r} is not understood; give one such as {EXAMPLES}")
