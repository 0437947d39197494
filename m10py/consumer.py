"""A queue consumer that claims the next batch while its caller works on the current one.

``complete_and_claim`` already makes a worker's cycle one round trip and one commit. Even so, the
database waits while the worker runs and the worker waits while the database claims and commits.
``WorkConsumer`` keeps one request in flight on a libpq pipeline: when a batch arrives it at once sends
the next ``complete_and_claim`` (completing the batch before, claiming the one after) and only then
hands the batch over, so the claim and its commit overlap the caller's work, as graphile-worker's
local queue and River's producer fetch ahead of their executors.

The price is a lease on one batch more than the caller is working on. It is bounded: nothing is
claimed ahead after a batch comes back empty, so a caller that sleeps between polls holds no
unstarted items, and ``close`` gives an unstarted batch back (``release_work``), uncounted.
"""

from __future__ import annotations

import logging
import selectors
import uuid
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Self

from psycopg import Pipeline, errors, pq
from psycopg.adapt import Transformer

from m10py import queries
from m10py.client_base import Conn
from m10py.errors import InvalidArgument, M10Error, translated
from m10py.models import ClaimedWork, claimed_items

log = logging.getLogger(__name__)

_PIPELINE_ABORTED = pq.ExecStatus.PIPELINE_ABORTED
_FATAL_ERROR = pq.ExecStatus.FATAL_ERROR
_PIPELINE_SYNC = pq.ExecStatus.PIPELINE_SYNC


class WorkConsumer:
    """Claim batches ahead on one connection, which belongs to the consumer until ``close``.

    Not thread-safe: one consumer per thread, each with its own connection.
    """

    def __init__(
        self,
        conn: Conn,
        worker_id: str,
        batch_size: int = 10,
        *,
        lease_seconds: int = 300,
        method: str | None = None,
    ) -> None:
        if not Pipeline.is_supported():
            raise M10Error(f"WorkConsumer needs libpq 14 or later (pipeline mode); this is {pq.version()}")
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            # Each request must commit on its own; inside the caller's transaction none would.
            raise InvalidArgument("WorkConsumer needs a connection outside a transaction")
        if batch_size < 1:  # complete_and_claim takes 0 (complete only): a consumer of nothing would spin
            raise InvalidArgument(f"batch_size must be at least 1, got {batch_size}")
        if "\x00" in worker_id or (method is not None and "\x00" in method):
            # libpq sends text parameters as C strings: a NUL would silently cut the name short.
            raise InvalidArgument("worker_id and method cannot contain NUL (0x00) characters")
        self._conn = conn
        self._pg = conn.pgconn
        self._tx = Transformer(conn)
        self._claim_params = [
            _text(worker_id),
            None,  # the completed ids, per request
            _text(batch_size),
            _text(lease_seconds),
            None if method is None else _text(method),
        ]
        self._worker_id = worker_id
        # Prepared once: parsing and planning the claim statement cost about 40 us a request.
        self._statement = f"m10_consumer_{uuid.uuid4().hex}".encode()
        self._prepared = False
        self._done: list[int] = []  # processed, to be completed by the next request
        self._sent_done: list[int] = []  # the completions the request in flight carries
        self._in_flight = False
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._pg.socket, selectors.EVENT_READ)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
            return
        try:  # the block's own error is the one to see; unfinished items return after their lease
            self.close()
        except Exception as close_error:
            log.warning("consumer %s could not finish after %r: %s", self._worker_id, exc, close_error)

    def next_batch(self, completed: Sequence[int] = ()) -> list[ClaimedWork]:
        """Record ``completed`` (items of earlier batches that succeeded) and return the next batch.

        An empty list means no work was ready; the completions are then written before it returns.
        Failures go through ``M10Client.complete_work`` on another connection, as usual.
        """
        self._done.extend(completed)
        with translated():
            if not self._in_flight:
                self._send_claim()
            result = self._receive()
            if result.ntuples == 0:
                if self._done:
                    self._send(queries.CONSUMER_FINISH, [_text(self._worker_id), self._take_done(), b"{}"])
                    self._receive()
                self._pg.exit_pipeline_mode()
                return []
            self._send_claim()  # the next batch is claimed while the caller works on this one
            self._tx.set_pgresult(result)
            return claimed_items(self._tx.load_rows(0, result.ntuples, tuple))

    def close(self, completed: Sequence[int] = ()) -> None:
        """Complete ``completed`` and the completions not written yet, give back a batch claimed
        ahead (uncounted, claimable at once) and leave pipeline mode."""
        self._done.extend(completed)
        with translated():
            if self._in_flight or self._done:
                unstarted = b"{}"
                if self._in_flight:
                    result = self._receive()
                    self._tx.set_pgresult(result)
                    rows = self._tx.load_rows(0, result.ntuples, tuple)
                    unstarted = _id_array(str(row[0]).encode() for row in rows)
                self._send(queries.CONSUMER_FINISH, [_text(self._worker_id), self._take_done(), unstarted])
                self._receive()
            if self._prepared:
                self._send(b"DEALLOCATE " + self._statement, [])
                self._receive()
                self._prepared = False
            if self._pg.pipeline_status != pq.PipelineStatus.OFF:
                self._pg.exit_pipeline_mode()
        self._selector.close()

    def _send_claim(self) -> None:
        self._claim_params[1] = self._take_done()
        self._enter_pipeline()
        if not self._prepared:
            self._pg.send_prepare(self._statement, queries.CONSUMER_CLAIM)
            self._prepared = True
        self._pg.send_query_prepared(self._statement, self._claim_params, result_format=pq.Format.BINARY)
        self._sync()

    def _take_done(self) -> bytes:
        """The completions to send with the next request, kept until its result says it committed."""
        self._sent_done, self._done = self._done, []
        return _id_array(str(work_id).encode() for work_id in self._sent_done)

    def _send(self, query: bytes, params: Sequence[bytes | None]) -> None:
        """Send one statement and a sync (its own transaction) without waiting for the result.
        Binary results: the server skips formatting three timestamps per claimed item as text."""
        self._enter_pipeline()
        self._pg.send_query_params(query, params, result_format=pq.Format.BINARY)
        self._sync()

    def _enter_pipeline(self) -> None:
        if self._pg.pipeline_status == pq.PipelineStatus.OFF:
            self._pg.enter_pipeline_mode()

    def _sync(self) -> None:
        """End the request (it commits on its own) and send it without waiting for the result."""
        self._pg.pipeline_sync()
        while self._pg.flush():  # non-blocking connection: the rest goes out once writable
            self._selector.modify(self._pg.socket, selectors.EVENT_READ | selectors.EVENT_WRITE)
            self._selector.select()
            self._selector.modify(self._pg.socket, selectors.EVENT_READ)
        self._in_flight = True

    def _receive(self) -> pq.abc.PGresult:
        """The result of the request in flight, read up to its sync; a server error is raised."""
        result: pq.abc.PGresult | None = None
        failure: pq.abc.PGresult | None = None
        while True:
            while self._pg.is_busy():
                self._selector.select()
                self._pg.consume_input()
            res = self._pg.get_result()
            if res is None:
                continue  # end of one statement's results
            if res.status == _PIPELINE_SYNC:
                break
            if res.status == _FATAL_ERROR:
                failure = failure or res
            elif res.status != _PIPELINE_ABORTED:  # what follows an error up to the sync
                result = res  # the request's last statement (a prepare comes before its query)
        self._in_flight = False
        if failure is not None:
            self._done[:0] = self._sent_done  # rolled back: the next request carries them again
            self._sent_done = []
            self._pg.exit_pipeline_mode()  # nothing is in flight: the connection is the caller's again
            raise errors.error_from_result(failure, encoding=self._conn.info.encoding)
        self._sent_done = []
        assert result is not None
        return result


def _text(value: object) -> bytes:
    return str(value).encode()


def _id_array(ids: Iterable[bytes]) -> bytes:
    return b"{" + b",".join(ids) + b"}"
