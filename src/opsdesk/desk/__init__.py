"""The service desk's working views: queues, counters, saved views and bulk actions."""
