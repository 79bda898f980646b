"""Placeholder: attachment type detection by content."""
