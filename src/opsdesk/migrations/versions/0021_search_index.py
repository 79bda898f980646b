"""suggestion search index (incidents, published articles) kept by the database; deflections

Only what can be suggested is indexed: live incidents (open, or resolved and not yet closed;
not merged) and published articles. SQLite: FTS5 external-content tables
``incident_search`` and ``article_search`` (porter
stemming, diacritics folded), kept by triggers. PostgreSQL: side tables with a weighted
``tsvector`` and a GIN index, kept by trigger functions; the text search configuration is
``english`` where the server has it, else ``simple`` (``opsdesk_search_config()``).
Triggers mean every way an incident is written (API, COC, mail, alerts, bulk) stays indexed.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 01:40:00
"""

# The statements are built from constant fragments (column lists), never from input.
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_INCIDENT_VALUES = "{row}.title, {row}.description, coalesce({row}.solution, '')"
# What can be suggested: open (new, in progress) or resolved and not yet closed, not merged.
_LIVE = (
    "{row}.merged_into_id IS NULL AND {row}.status IN ("
    "'INCIDENT_STATUS_TRIGGERED', 'INCIDENT_STATUS_ACKNOWLEDGED', 'INCIDENT_STATUS_RESOLVED')"
)
_ARTICLE_VALUES = "{row}.title, {row}.body, {row}.workaround, coalesce({row}.keywords, '')"

SQLITE_UP = [
    "CREATE VIRTUAL TABLE incident_search USING fts5(title, description, solution, "
    "content='incidents', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2', detail='column')",
    "CREATE VIRTUAL TABLE article_search USING fts5(title, body, workaround, keywords, "
    "content='articles', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2', detail='column')",
    # Only live incidents are in the index (what can be suggested: open or resolved, not
    # merged); an external-content row is only ever deleted with the values it was indexed
    # with, hence the liveness checks on the old row. Status changes that keep an incident
    # live or not live, and edits of other columns, leave the index alone.
    f"""CREATE TRIGGER incident_search_insert AFTER INSERT ON incidents
    WHEN {_LIVE.format(row="new")} BEGIN
      INSERT INTO incident_search(rowid, title, description, solution)
      VALUES (new.id, {_INCIDENT_VALUES.format(row="new")});
    END""",
    f"""CREATE TRIGGER incident_search_delete AFTER DELETE ON incidents
    WHEN {_LIVE.format(row="old")} BEGIN
      INSERT INTO incident_search(incident_search, rowid, title, description, solution)
      VALUES ('delete', old.id, {_INCIDENT_VALUES.format(row="old")});
    END""",
    f"""CREATE TRIGGER incident_search_update
    AFTER UPDATE OF title, description, solution, status, merged_into_id ON incidents
    WHEN ({_LIVE.format(row="old")}) != ({_LIVE.format(row="new")})
      OR old.title IS NOT new.title OR old.description IS NOT new.description
      OR old.solution IS NOT new.solution BEGIN
      INSERT INTO incident_search(incident_search, rowid, title, description, solution)
      SELECT 'delete', old.id, {_INCIDENT_VALUES.format(row="old")}
      WHERE {_LIVE.format(row="old")};
      INSERT INTO incident_search(rowid, title, description, solution)
      SELECT new.id, {_INCIDENT_VALUES.format(row="new")} WHERE {_LIVE.format(row="new")};
    END""",
    # Articles: only published ones are in the index (an external-content row must only be
    # deleted with the values it was indexed with, hence the WHERE on the old status).
    f"""CREATE TRIGGER article_search_insert AFTER INSERT ON articles
    WHEN new.status = 'published' BEGIN
      INSERT INTO article_search(rowid, title, body, workaround, keywords)
      VALUES (new.id, {_ARTICLE_VALUES.format(row="new")});
    END""",
    f"""CREATE TRIGGER article_search_delete AFTER DELETE ON articles
    WHEN old.status = 'published' BEGIN
      INSERT INTO article_search(article_search, rowid, title, body, workaround, keywords)
      VALUES ('delete', old.id, {_ARTICLE_VALUES.format(row="old")});
    END""",
    f"""CREATE TRIGGER article_search_update AFTER UPDATE ON articles BEGIN
      INSERT INTO article_search(article_search, rowid, title, body, workaround, keywords)
      SELECT 'delete', old.id, {_ARTICLE_VALUES.format(row="old")}
      WHERE old.status = 'published';
      INSERT INTO article_search(rowid, title, body, workaround, keywords)
      SELECT new.id, {_ARTICLE_VALUES.format(row="new")} WHERE new.status = 'published';
    END""",
    f"""INSERT INTO incident_search(rowid, title, description, solution)
    SELECT id, {_INCIDENT_VALUES.format(row="incidents")} FROM incidents
    WHERE {_LIVE.format(row="incidents")}""",
    f"""INSERT INTO article_search(rowid, title, body, workaround, keywords)
    SELECT id, {_ARTICLE_VALUES.format(row="articles")} FROM articles
    WHERE status = 'published'""",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS incident_search_insert",
    "DROP TRIGGER IF EXISTS incident_search_delete",
    "DROP TRIGGER IF EXISTS incident_search_update",
    "DROP TRIGGER IF EXISTS article_search_insert",
    "DROP TRIGGER IF EXISTS article_search_delete",
    "DROP TRIGGER IF EXISTS article_search_update",
    "DROP TABLE IF EXISTS incident_search",
    "DROP TABLE IF EXISTS article_search",
]

_INCIDENT_DOCUMENT = (
    "setweight(to_tsvector(opsdesk_search_config(), {row}.title), 'A') || "
    "setweight(to_tsvector(opsdesk_search_config(), {row}.description), 'B') || "
    "setweight(to_tsvector(opsdesk_search_config(), coalesce({row}.solution, '')), 'C')"
)
_ARTICLE_DOCUMENT = (
    "setweight(to_tsvector(opsdesk_search_config(), {row}.title), 'A') || "
    "setweight(to_tsvector(opsdesk_search_config(), coalesce({row}.keywords::text, '')), 'A') || "
    "setweight(to_tsvector(opsdesk_search_config(), {row}.body), 'B') || "
    "setweight(to_tsvector(opsdesk_search_config(), {row}.workaround), 'C')"
)

POSTGRES_UP = [
    """CREATE FUNCTION opsdesk_search_config() RETURNS regconfig LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'english')
             THEN 'english'::regconfig ELSE 'simple'::regconfig END
    $$""",
    """CREATE TABLE incident_search (
      incident_id BIGINT PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,
      document tsvector NOT NULL)""",
    "CREATE INDEX ix_incident_search_document ON incident_search USING gin (document)",
    """CREATE TABLE article_search (
      article_id BIGINT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
      document tsvector NOT NULL)""",
    "CREATE INDEX ix_article_search_document ON article_search USING gin (document)",
    f"""CREATE FUNCTION opsdesk_index_incident() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF {_LIVE.format(row="NEW")} THEN
        INSERT INTO incident_search (incident_id, document)
        VALUES (NEW.id, {_INCIDENT_DOCUMENT.format(row="NEW")})
        ON CONFLICT (incident_id) DO UPDATE SET document = EXCLUDED.document;
      ELSIF TG_OP = 'UPDATE' THEN
        DELETE FROM incident_search WHERE incident_id = NEW.id;
      END IF;
      RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER incident_search_insert AFTER INSERT ON incidents
      FOR EACH ROW WHEN ({_LIVE.format(row="NEW")})
      EXECUTE FUNCTION opsdesk_index_incident()""",
    f"""CREATE TRIGGER incident_search_update
      AFTER UPDATE OF title, description, solution, status, merged_into_id ON incidents
      FOR EACH ROW WHEN (({_LIVE.format(row="OLD")}) IS DISTINCT FROM ({_LIVE.format(row="NEW")})
        OR OLD.title IS DISTINCT FROM NEW.title
        OR OLD.description IS DISTINCT FROM NEW.description
        OR OLD.solution IS DISTINCT FROM NEW.solution)
      EXECUTE FUNCTION opsdesk_index_incident()""",
    f"""CREATE FUNCTION opsdesk_index_article() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status = 'published' THEN
        INSERT INTO article_search (article_id, document)
        VALUES (NEW.id, {_ARTICLE_DOCUMENT.format(row="NEW")})
        ON CONFLICT (article_id) DO UPDATE SET document = EXCLUDED.document;
      ELSE
        DELETE FROM article_search WHERE article_id = NEW.id;
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER article_search_write AFTER INSERT OR UPDATE ON articles
      FOR EACH ROW EXECUTE FUNCTION opsdesk_index_article()""",
    f"""INSERT INTO incident_search (incident_id, document)
    SELECT id, {_INCIDENT_DOCUMENT.format(row="incidents")} FROM incidents
    WHERE {_LIVE.format(row="incidents")}""",
    f"""INSERT INTO article_search (article_id, document)
    SELECT id, {_ARTICLE_DOCUMENT.format(row="articles")} FROM articles
    WHERE status = 'published'""",
]

POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS article_search_write ON articles",
    "DROP TRIGGER IF EXISTS incident_search_update ON incidents",
    "DROP TRIGGER IF EXISTS incident_search_insert ON incidents",
    "DROP FUNCTION IF EXISTS opsdesk_index_article()",
    "DROP FUNCTION IF EXISTS opsdesk_index_incident()",
    "DROP TABLE IF EXISTS article_search",
    "DROP TABLE IF EXISTS incident_search",
    "DROP FUNCTION IF EXISTS opsdesk_search_config()",
]


def upgrade() -> None:
    op.create_table(
        "deflections",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("article_id", BIG_ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_deflections_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_deflections_article_id_articles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deflections")),
    )
    op.create_index(op.f("ix_deflections_article_id"), "deflections", ["article_id"])
    op.create_index(op.f("ix_deflections_created_at"), "deflections", ["created_at"])
    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    statements = SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN
    for statement in statements:
        op.execute(statement)
    op.drop_index(op.f("ix_deflections_created_at"), table_name="deflections")
    op.drop_index(op.f("ix_deflections_article_id"), table_name="deflections")
    op.drop_table("deflections")
