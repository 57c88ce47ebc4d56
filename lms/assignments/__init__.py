"""Mandatory training by decision: assignments of a course or a learning path to a target."""
