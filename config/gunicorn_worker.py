"""The gunicorn worker the app is served with: ``gunicorn -k config.gunicorn_worker.InlineWorker``."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from typing import Any

from gunicorn.workers.gthread import _DEFER, TConn, ThreadWorker


class _NoPool:
    """Stands in for the thread pool that gthread shuts down on exit."""

    def shutdown(self, wait: bool = True) -> None:
        pass


class InlineWorker(ThreadWorker):
    """gunicorn's gthread worker, with each request served in the worker's own thread.

    With one thread, gthread still hands every request to a pool thread and the finished connection
    back to the main thread through a pipe: two thread switches per request, each waiting for the GIL,
    which on two busy cores cost gunicorn about a tenth of its CPU per vote (bench/README.md). This
    worker keeps gthread's event loop, so kept-alive connections and new ones that have sent nothing
    yet wait in its poller, not in a request, and serves one request at a time in place. ``--threads``
    is ignored.

    As with gunicorn's sync worker, a client that stalls in the middle of a request holds the worker
    until it answers: serve it behind a buffering proxy (nginx), as the README deploys it. A long
    request (a large upload) is not ended by gunicorn's ``--timeout``, as with gthread: a thread of
    its own tells the arbiter that the worker is alive while a request runs.
    """

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        super().check_config(cfg, log)
        if cfg.http_protocols != ["h1"]:
            # An HTTP/2 connection is served by one handle() call for as long as it stays open.
            raise RuntimeError(
                "InlineWorker serves HTTP/1.x only: run it with --http-protocols h1 (the default)"
            )

    def init_process(self) -> None:
        self._ready: deque[TConn] = deque()
        self._serving = False
        super().init_process()

    def get_thread_pool(self) -> Any:
        return _NoPool()

    def run(self) -> None:
        # gthread's event loop tells the arbiter the worker is alive, also while its pool serves a long
        # request; here the loop waits for each request, so the telling moves to this thread.
        stopped = threading.Event()
        threading.Thread(target=self._heartbeat, args=(stopped,), name="heartbeat", daemon=True).start()
        try:
            super().run()
        finally:
            stopped.set()

    def _heartbeat(self, stopped: threading.Event) -> None:
        while not stopped.wait(min(1.0, self.timeout / 4)):
            self.notify()

    def enqueue_req(self, conn: TConn) -> None:
        # finish_request() calls back here when a client sent its next request along with the last one:
        # that connection is served after the current one returns, not from within it, so a client
        # that pipelines requests cannot grow the stack.
        self._ready.append(conn)
        if self._serving:
            return
        self._serving = True
        try:
            while self._ready:
                self._serve(self._ready.popleft())
        finally:
            self._serving = False

    def _serve(self, conn: TConn) -> None:
        served: Future = Future()
        if not conn.initialized and not conn.data_ready:
            # A new connection: its first bytes are awaited by the poller, never by this thread
            # (gthread's handle() would wait up to 5 s for them).
            served.set_result(_DEFER)
        else:
            try:
                served.set_result(self.handle(conn))
            except Exception as error:  # handle() answers what a request raises; this is what it lets out
                served.set_exception(error)
        self.finish_request(conn, served)
