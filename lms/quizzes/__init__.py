"""Question banks, quizzes, timed attempts and server-side grading (built in the quiz issue)."""
