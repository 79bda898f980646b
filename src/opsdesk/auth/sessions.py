"""The web session: what the signed session cookie holds."""

# The session cookie is signed (not encrypted) and holds only the user's id; the user is
# looked up on every request, so deactivation takes effect at once.
SESSION_USER_KEY = "user_id"
