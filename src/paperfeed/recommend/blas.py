"""One BLAS thread for the personal feed's matrix products.

Why: a reader's fit and a 10,000-candidate scoring are small products that run beside the web
server or the worker on a few cores; with numpy's default of one BLAS thread a core, the
threads wait on each other and on the server (a fit's p95 went from 25 to ~500 ms on a busy
2-core box, a scoring from ~1 to ~5 ms: benchmarks/RESULTS.md, "For you"). The limit holds
for the ``with`` block only and costs microseconds; the controller (which scans the loaded
libraries once) is made at first use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_controller: ThreadpoolController | None = None


def _the_controller() -> ThreadpoolController:
    global _controller
    with _lock:
        if _controller is None:
            _controller = ThreadpoolController()
        return _controller


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block's BLAS calls on the calling thread only."""
    with _the_controller().limit(limits=1, user_api="blas"):
        yield
