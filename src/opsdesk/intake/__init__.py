"""Channels in: each translates what arrives (mail, later chat) into the same service calls."""
