"""Is this Daylight process able to serve? Each check answers a short status word and never raises.

The words are all a caller sees: exception texts name hosts and ports, so they go to the log only.
"""

import logging

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger(__name__)

OK, FAILING, NOT_CONFIGURED, PENDING = "ok", "failing", "not configured", "pending"
TIMEOUT_SECONDS = 2.0
_migrations_applied = False  # once true in a process it stays true: nothing un-applies them


def check_database() -> str:
    try:
        if connection.vendor == "postgresql":
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = %s", [int(TIMEOUT_SECONDS * 1000)])
                cursor.execute("SELECT 1")
        else:  # no transaction: SQLite's IMMEDIATE mode would take the write lock
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        return OK
    except DatabaseError as exc:
        logger.warning("health: database check failed: %s", type(exc).__name__)
        # A broken connection must not be reused by the next request of this thread.
        connection.close_if_unusable_or_obsolete()
        return FAILING


def broker_client(url: str):
    """A Redis client for ``url`` that gives up quickly: health and metrics must not hang."""
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
    )


def check_broker() -> str:
    url = settings.CELERY_BROKER_URL
    if not url:
        return NOT_CONFIGURED
    try:
        if url.startswith(("redis://", "rediss://")):
            broker_client(url).ping()
        else:
            from kombu import Connection

            with Connection(url, connect_timeout=TIMEOUT_SECONDS) as conn:
                conn.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
        return OK
    except Exception as exc:  # any client error means the same thing here: unreachable
        logger.warning("health: broker check failed: %s", type(exc).__name__)
        return FAILING


def check_migrations() -> str:
    global _migrations_applied
    if _migrations_applied:
        return OK
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        logger.warning("health: migration check failed: %s", type(exc).__name__)
        return FAILING
    _migrations_applied = not plan
    return OK if not plan else PENDING


def liveness() -> dict:
    """``/healthz``: the process answers; the database and broker are reported, not required."""
    return {"web": OK, "database": check_database(), "broker": check_broker()}


def readiness() -> dict:
    """``/readyz``: ready to serve requests and queue work."""
    checks = {"database": check_database()}
    checks["migrations"] = check_migrations() if checks["database"] == OK else FAILING
    checks["broker"] = check_broker()
    return checks


def is_ready(checks: dict) -> bool:
    """An embedded install runs tasks in-process, so having no broker is no reason to refuse."""
    return all(status in (OK, NOT_CONFIGURED) for status in checks.values())
