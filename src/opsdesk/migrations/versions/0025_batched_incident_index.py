"""SQLite: new incidents reach the full-text index in batches

An FTS5 insert in its own transaction writes a new index segment, a doc-size row and the
index structure record: on SQLite that cost as much as the incident row itself and slowed
single creates by 8 to 25 % (issue 30 asks for < 10 %). A new live incident now only writes its
id to ``incident_search_pending``; when ``PENDING_BATCH`` ids wait, the trigger on that
table indexes them all in one FTS5 write. Suggestions read the waiting rows directly
(``knowledge.search_index``), so a brand-new incident is suggested at once.

Invariant: a live incident is in ``incident_search`` or in ``incident_search_pending``, never
in both. Edits of a waiting incident leave the index alone (the batch reads the incident as
it is then, and skips it if it is no longer live); edits of an indexed one go on as in 0021.
PostgreSQL keeps 0021's triggers (a GIN insert costs little there).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 22:00:00
"""

# The statements are built from constant fragments (column lists), never from input.
# ruff: noqa: S608

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_BATCH = 32

_VALUES = "{row}.title, {row}.description, coalesce({row}.solution, '')"
_LIVE = (
    "{row}.merged_into_id IS NULL AND {row}.status IN ("
    "'INCIDENT_STATUS_TRIGGERED', 'INCIDENT_STATUS_ACKNOWLEDGED', 'INCIDENT_STATUS_RESOLVED')"
)
_WAITING = "EXISTS (SELECT 1 FROM incident_search_pending WHERE incident_id = {row}.id)"

# ``id IN (queue)`` makes SQLite look up the few queued ids; a join let its planner (in a
# trigger) scan the live incidents instead: 25 ms a batch on 100,000 incidents, not 0.2 ms.
_INDEX_WAITING = f"""INSERT INTO incident_search(rowid, title, description, solution)
      SELECT i.id, {_VALUES.format(row="i")}
      FROM incidents i
      WHERE i.id IN (SELECT incident_id FROM incident_search_pending)
      AND {_LIVE.format(row="i")}"""
_FORGET_WAITING = "DELETE FROM incident_search_pending"

# 0021's triggers, for the downgrade.
_IMMEDIATE_INSERT = f"""CREATE TRIGGER incident_search_insert AFTER INSERT ON incidents
    WHEN {_LIVE.format(row="new")} BEGIN
      INSERT INTO incident_search(rowid, title, description, solution)
      VALUES (new.id, {_VALUES.format(row="new")});
    END"""
_IMMEDIATE_DELETE = f"""CREATE TRIGGER incident_search_delete AFTER DELETE ON incidents
    WHEN {_LIVE.format(row="old")} BEGIN
      INSERT INTO incident_search(incident_search, rowid, title, description, solution)
      VALUES ('delete', old.id, {_VALUES.format(row="old")});
    END"""
_UPDATE_HEAD = """CREATE TRIGGER incident_search_update
    AFTER UPDATE OF title, description, solution, status, merged_into_id ON incidents
    WHEN (({live_old}) != ({live_new})
      OR old.title IS NOT new.title OR old.description IS NOT new.description
      OR old.solution IS NOT new.solution){waiting} BEGIN"""
_UPDATE_BODY = f"""
      INSERT INTO incident_search(incident_search, rowid, title, description, solution)
      SELECT 'delete', old.id, {_VALUES.format(row="old")}
      WHERE {_LIVE.format(row="old")};
      INSERT INTO incident_search(rowid, title, description, solution)
      SELECT new.id, {_VALUES.format(row="new")} WHERE {_LIVE.format(row="new")};
    END"""


def _update_trigger(*, skip_waiting: bool) -> str:
    head = _UPDATE_HEAD.format(
        live_old=_LIVE.format(row="old"),
        live_new=_LIVE.format(row="new"),
        waiting=f"\n      AND NOT {_WAITING.format(row='new')}" if skip_waiting else "",
    )
    return head + _UPDATE_BODY


SQLITE_UP = [
    "CREATE TABLE incident_search_pending (incident_id INTEGER PRIMARY KEY)",
    "DROP TRIGGER incident_search_insert",
    "DROP TRIGGER incident_search_delete",
    "DROP TRIGGER incident_search_update",
    f"""CREATE TRIGGER incident_search_insert AFTER INSERT ON incidents
    WHEN {_LIVE.format(row="new")} BEGIN
      INSERT INTO incident_search_pending(incident_id) VALUES (new.id);
    END""",
    f"""CREATE TRIGGER incident_search_flush AFTER INSERT ON incident_search_pending
    WHEN (SELECT count(*) FROM incident_search_pending) >= {PENDING_BATCH} BEGIN
      {_INDEX_WAITING};
      {_FORGET_WAITING};
    END""",
    f"""CREATE TRIGGER incident_search_delete AFTER DELETE ON incidents BEGIN
      INSERT INTO incident_search(incident_search, rowid, title, description, solution)
      SELECT 'delete', old.id, {_VALUES.format(row="old")}
      WHERE {_LIVE.format(row="old")} AND NOT {_WAITING.format(row="old")};
      DELETE FROM incident_search_pending WHERE incident_id = old.id;
    END""",
    _update_trigger(skip_waiting=True),
]

SQLITE_DOWN = [
    # Whatever waits goes into the index first: 0021's triggers expect every live row there.
    _INDEX_WAITING,
    "DROP TRIGGER incident_search_flush",
    "DROP TRIGGER incident_search_insert",
    "DROP TRIGGER incident_search_delete",
    "DROP TRIGGER incident_search_update",
    "DROP TABLE incident_search_pending",
    _IMMEDIATE_INSERT,
    _IMMEDIATE_DELETE,
    _update_trigger(skip_waiting=False),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
