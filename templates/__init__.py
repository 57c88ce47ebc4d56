"""Jinja templates and static assets, installed as lms.templates."""
