"""Demo data: a small, believable service desk to explore opsdesk with."""
