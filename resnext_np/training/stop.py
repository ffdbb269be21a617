"""Stopping a training run cleanly: Ctrl-C (SIGINT) and a scheduler's SIGTERM.

The first signal sets a flag that the loop checks between steps, so a step is never cut in half:
the run saves a checkpoint and ends. A second signal ends the process at once with "interrupted"
(exit status 128 + the signal's number). It exits instead of raising ``KeyboardInterrupt``
because an exception raised inside a signal handler can land while a Numba kernel returns
(``SystemError: CPUDispatcher(...) returned a result with an exception set``). Nothing is lost:
checkpoints are only ever replaced by a rename, and the next run removes any temporary file.
"""

import os
import signal
import sys
import threading

SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class StopFlag:
    def __init__(self, write=None):
        """``write``: how to print the notice (e.g. tqdm.write, so progress bars stay intact)."""
        self.write = write
        self.requested = False
        self.signal_number = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in SIGNAL_NAMES:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            print("\ninterrupted", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(128 + signum)
        self.requested, self.signal_number = True, signum
        notice = (f"{SIGNAL_NAMES[signum]}: finishing this step, saving a checkpoint, then exiting "
                  f"(Ctrl-C again to abort)")
        if self.write is not None:
            self.write(notice)  # tqdm.write takes a reentrant lock, so a handler may call it
        else:
            print(f"\n{notice}", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous = {}
        return False
