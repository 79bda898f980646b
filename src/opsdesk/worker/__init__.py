"""The background worker: the job runner, opsdesk's job kinds, and the processes that run it."""
