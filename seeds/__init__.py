"""Demo data for the ministry: its organisation chart, staff, roles and sign-ins."""
