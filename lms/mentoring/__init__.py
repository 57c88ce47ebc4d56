"""Mentors and mentees (the mentoring issue builds the pages; reports show each person's mentor)."""
