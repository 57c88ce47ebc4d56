"""Notifications: in-app messages to a person (e-mail and digests come with the scheduler)."""
