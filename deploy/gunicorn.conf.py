"""gunicorn settings for one lms web instance (installed as /etc/lms/gunicorn.conf.py).

The port comes from the systemd unit (``--bind 127.0.0.1:%i``, lms-web@.service); the app's
settings from /etc/lms/lms.env (LMS_* variables). Two instances run per host, so each gets
as many worker processes as the host has cores: a request that waits on PostgreSQL or on
WeasyPrint holds one thread, not the whole process. Override with WEB_CONCURRENCY and
GUNICORN_THREADS in the environment file when measurements say so.
"""
import multiprocessing
import os

wsgi_app = "lms:create_app()"

# Workers: processes (use the cores) x threads (overlap database and disk waits).
workers = int(os.environ.get("WEB_CONCURRENCY") or max(2, multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
# Heartbeat files of the workers in memory, not on disk (a slow disk must not get a worker
# killed as "stuck").
worker_tmp_dir = "/dev/shm"

# Timeouts. With gthread workers `timeout` restarts a worker process that stops responding
# altogether (its heartbeat thread is stuck), not a single slow request: a long export or a
# course package import runs in its thread until nginx's proxy_read_timeout.
timeout = 120
# On SIGTERM / HUP: requests in flight get this long to finish (systemd waits 45 s).
graceful_timeout = 30
# Keep-alive with nginx's upstream connection pool.
keepalive = 30

# Recycle a worker after this many requests (+ jitter, so they do not all restart at once):
# bounds any slow growth of memory (fonts, PDF rendering).
max_requests = 2000
max_requests_jitter = 200

# Requests are logged by the app itself (one JSON line with request id, user, route, status and
# duration when LMS_LOG_FORMAT=json): no second access log here. Errors go to journald.
accesslog = None
errorlog = "-"
loglevel = "info"

# The app runs behind nginx on the same host; it reads X-Forwarded-For/-Proto itself
# (LMS_PROXY_COUNT=1). gunicorn trusts X-Forwarded-Proto only from this address.
forwarded_allow_ips = "127.0.0.1"
proxy_allow_ips = "127.0.0.1"

# Limits on the request line and headers (bodies are limited by nginx and the app).
limit_request_line = 8190
limit_request_fields = 100

# No preload: every worker opens its own database pool after the fork.
preload_app = False


def child_exit(server, worker):
    """With metrics in multiprocess mode (PROMETHEUS_MULTIPROC_DIR set), a worker that exits
    leaves its counters to the others, and its live gauges are dropped."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
