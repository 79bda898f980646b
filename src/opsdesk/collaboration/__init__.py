"""Working an incident together: public replies, internal notes, work logs and feedback."""
