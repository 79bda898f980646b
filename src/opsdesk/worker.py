"""The background worker: claims due jobs and runs the handler of their kind."""
