"""Admin pages: every setting an administrator tunes, calling the same services as the API."""
