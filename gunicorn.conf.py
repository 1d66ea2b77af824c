"""gunicorn's settings file (read from the directory it starts in): hooks only; the command
line (Procfile) sets the rest."""


def worker_exit(server, worker):
    """Stop this worker's in-process scheduler (no broker: smsjourney.background) while the
    interpreter still runs. Left to atexit, its thread could try to start a job after
    Python's own shutdown had begun, and log a traceback for a job that simply is not run."""
    from smsjourney.background import stop

    stop()
