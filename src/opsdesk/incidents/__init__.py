"""The incident: its record, rules, history and use cases."""
