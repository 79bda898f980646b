"""Server-rendered pages (Jinja2): login, incident list, incident detail."""
