"""opsdesk: incident management for service desks and operations teams."""

__version__ = "0.1.0"
