"""How incidents relate: links (related, duplicate of, caused by), parent and child, merge and
undo merge, split."""
