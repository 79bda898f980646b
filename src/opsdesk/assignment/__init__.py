"""Who holds an incident: priority matrix, workgroups, technicians, shifts, assignment rules."""
