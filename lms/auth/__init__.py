"""Sign-in, server-side sessions, passwords and the account page."""
