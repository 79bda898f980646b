"""Notifications: email and webhook messages, their templates and their delivery through jobs."""
