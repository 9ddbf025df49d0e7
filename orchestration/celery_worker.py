"""The host name Airflow records for a task instance, per Celery worker.

Airflow writes the name of the machine that ran a task into `task_instance.hostname` (the UI's "Host"), from
the callable named by `[core] hostname_callable`. Two Celery workers on one machine would both report the
machine's name; set

    AIRFLOW__CORE__HOSTNAME_CALLABLE=orchestration.celery_worker.worker_hostname
    ELT_WORKER_HOSTNAME=worker-1            # a different name for each worker

in each worker's environment, and each task instance names the worker that ran it. Without
ELT_WORKER_HOSTNAME the machine's fully qualified name is returned, as by Airflow's default callable, so the
same setting is harmless in the scheduler, the API server and the DAG processor. In containers (one worker
per container, each with its own `hostname:`) Airflow's default is enough.
"""

from __future__ import annotations

import os
import socket

WORKER_HOSTNAME = "ELT_WORKER_HOSTNAME"


def worker_hostname() -> str:
    """ELT_WORKER_HOSTNAME if set and not blank, else the machine's fully qualified domain name."""
    return os.environ.get(WORKER_HOSTNAME, "").strip() or socket.getfqdn()
