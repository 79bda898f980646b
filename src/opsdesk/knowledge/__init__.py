"""Knowledge base: articles with versions and visibility, and suggestions (full-text ranking of
articles and similar incidents, optionally fused with sentence embeddings)."""
