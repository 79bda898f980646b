"""The COC filter language: parse and check list requests (pure), then SQL (``sql.py``)."""
