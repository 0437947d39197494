"""M10Client: one method per public SQL function, each usable inside the caller's transaction."""

from __future__ import annotations

from m10py.locks_api import LockCalls
from m10py.outbox_api import OutboxCalls
from m10py.queue_api import QueueCalls
from m10py.recovery_api import RecoveryCalls
from m10py.stream_api import StreamCalls


class M10Client(QueueCalls, RecoveryCalls, OutboxCalls, LockCalls, StreamCalls):
    """Calls the m10_recovery SQL API.

    Every method takes an optional ``conn``: pass one to run the call inside your own transaction;
    without it the call borrows a pooled connection and commits on its own. Results are dataclasses
    of m10py.models; the SQL API's errors arrive as m10py.errors exceptions.
    """
