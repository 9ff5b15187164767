"""gunicorn settings for Daylight's web container (``gunicorn -c python:config.gunicorn``).

Request metrics from every worker reach /metrics through prometheus_client's multiprocess mode:
each worker writes its figures to files in PROMETHEUS_MULTIPROC_DIR, and the worker answering a
scrape adds them all up. The folder is emptied when gunicorn starts (figures of an earlier
server would count twice) and a worker's files are marked dead when it exits.
"""

import os
import shutil
from pathlib import Path

from prometheus_client import multiprocess


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
