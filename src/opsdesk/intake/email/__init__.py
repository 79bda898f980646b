"""Email in: SMTP listener, IMAP poller and MTA pipe, all feeding one parser and one service."""
