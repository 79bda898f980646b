"""What the models-match-migrations comparison leaves out: objects the database keeps itself."""

from __future__ import annotations

from opsdesk.knowledge.suggest_models import is_search_index_table


def include_object(
    item: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's hook: skip the search index tables (and their indexes and shadow tables)."""
    table = getattr(item, "table", None)
    table_name = name if type_ == "table" else getattr(table, "name", None)
    return not is_search_index_table(table_name)
