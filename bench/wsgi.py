"""The application gunicorn serves in the benchmark: ``gunicorn bench.wsgi:app``.

Settings come from the LMS_* environment variables, as in production; the bench adds
one route, ``/_bench/bare`` (the baseline page), and nothing else.
"""
from bench._common import make_app

app = make_app()
