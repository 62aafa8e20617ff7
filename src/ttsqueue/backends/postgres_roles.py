"""PostgreSQL setup beyond the tables: the complete schema as one SQL script (for
Supabase's SQL editor), the application role, and the grants of the reader roles.

Who connects as which role is written down in docs/security.md.
"""

from __future__ import annotations

from psycopg import sql

from ttsqueue.backends.postgres_conn import Conn, Database, parse_url
from ttsqueue.backends.sqlfiles import migrations, queries

IDENTITY = queries("postgres", "identity.sql")
APP_ROLE = "ttsqueue_app"


def _sql(query: str, **parts: sql.Composable) -> sql.Composed:
    return sql.SQL(IDENTITY[query]).format(**parts)


def migration_script(schema: str, *, create_app_role: bool = False) -> str:
    """Every migration for a fresh ``schema`` in one transaction, with its version
    records, as ``ttsqueue migrate`` would apply them."""
    parse_url(f"postgresql:///?schema={schema}")  # the same check as the URL's
    ident, name = sql.Identifier(schema), sql.Literal(schema)
    parts = [_sql("script_header", schema=ident, schema_name=name).as_string(None)]
    if create_app_role:
        parts.append(IDENTITY["create_app_role"] + ";")
    for migration in migrations("postgres"):
        parts.append(f"-- migration {migration.version:03d}_{migration.name}")
        body = migration.sql.strip()
        parts.append(body if body.endswith(";") else body + ";")
        version = _sql(
            "script_version",
            schema=ident,
            version=sql.Literal(migration.version),
            name=sql.Literal(migration.name),
        )
        parts.append(version.as_string(None))
    parts.append(_sql("grant_readers", schema=ident).as_string(None) + ";")
    parts.append(IDENTITY["script_footer"])
    return "\n\n".join(parts) + "\n"


async def regrant(conn: Conn, schema: str) -> None:
    """Trim the grants again (after migrations), where the schema has the function."""
    cur = await conn.execute(_sql("has_grant_readers"), {"schema": schema})
    if await cur.fetchone():
        await conn.execute(_sql("grant_readers", schema=sql.Identifier(schema)))


async def grant_readers(db: Database, schema: str, *, create_app_role: bool) -> list[str]:
    """Create the application role if asked, then (re)grant the reader roles that
    exist now; answers the roles that may read."""

    async def work(conn: Conn) -> list[str]:
        if create_app_role:
            await conn.execute(IDENTITY["create_app_role"].encode())
        cur = await conn.execute(_sql("grant_readers", schema=sql.Identifier(schema)))
        row = await cur.fetchone()
        return list(row["tq_grant_readers"]) if row else []

    return await db.run(work)
