"""Users, roles, passwords, API tokens and the caller of every request."""
