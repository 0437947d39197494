"""Processes for tests/py/test_locks.py (spawned: keep this module light)."""

from __future__ import annotations

import os
import time

import psycopg

from m10py.client import M10Client
from m10py.db import create_pool
from m10py.locks import DistributedLock


def contend(url: str, name: str, rounds: int) -> None:
    """Enter the critical section `rounds` times under the lock, logging entry and exit times."""
    pool = create_pool(url, min_size=1, max_size=2)
    client = M10Client(pool)
    log = psycopg.connect(url, autocommit=True)
    try:
        for _ in range(rounds):
            with DistributedLock(client, name, ttl_seconds=5, wait_seconds=60, retry_interval=0.005) as lock:
                log.execute(
                    "INSERT INTO public.lock_log (holder, entered_at) VALUES (%s, clock_timestamp())",
                    (lock.holder_id,),
                )
                time.sleep(0.01)
                log.execute(
                    "UPDATE public.lock_log SET left_at = clock_timestamp()"
                    " WHERE holder = %s AND left_at IS NULL",
                    (lock.holder_id,),
                )
    finally:
        log.close()
        pool.close()


def acquire_and_die(url: str, name: str, ttl_seconds: int) -> None:
    """Take the lock, then die without releasing it (as a crashed holder would)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT m10_recovery.acquire_lock(%s, 'doomed', %s)", (name, ttl_seconds))
    os._exit(0)
