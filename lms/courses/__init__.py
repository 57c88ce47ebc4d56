"""Courses, modules and lessons, enrolment and progress (built in the courses issue)."""
