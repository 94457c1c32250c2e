"""Ctrl-C during a long run that keeps its finished work: the first one stops it, later ones are
ignored while it winds down (a second Ctrl-C must not interrupt the clean-up or the exit)."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from spucircuit.errors import Interrupted


@contextmanager
def one_shot_sigint():
    """Within the block, the first Ctrl-C raises KeyboardInterrupt and later ones are ignored. The
    previous handler is restored when the block ends normally or with another error; after a
    Ctrl-C (KeyboardInterrupt or :class:`~spucircuit.errors.Interrupted` leaving the block) later
    ones stay ignored: the process is on its way out. Off the main thread it does nothing."""
    def handler(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    except (KeyboardInterrupt, Interrupted):
        raise
    except BaseException:
        signal.signal(signal.SIGINT, old)
        raise
    signal.signal(signal.SIGINT, old)
