"""SLA: policies, business-hours calendars, the SLA clock computed from history, escalations."""
