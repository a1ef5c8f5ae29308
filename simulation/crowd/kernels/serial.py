"""The crowd kernel compiled a second time for one thread: :func:`csm_advance_serial`.

A library day mostly has a handful of people walking, and then the parallel region that
:func:`~simulation.crowd.kernels.csm.csm_advance` opens every step costs more than the step
itself (measured on this project's 2-core machine with 6 walkers: about 38 us of CPU a step on
one thread of the parallel build against 10 us serial). :func:`csm_advance_serial` is the very
same Python function compiled without ``parallel=True`` (``prange`` runs as ``range``), so the
results are identical; the crowd picks it whenever it runs on one thread.

The twin gets a name of its own, so Numba's on-disk cache keeps its machine code apart from the
parallel build's (the cache is keyed by the function's file and name, not by its flags), and it is
recompiled whenever ``csm.py`` changes, like the original.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from numba import njit

from . import csm


def _renamed(fn: Any, name: str) -> Callable[..., Any]:
    """A copy of a jitted function's Python function under another name (same code, same module)."""
    py = fn.py_func
    out = types.FunctionType(py.__code__, py.__globals__, name, py.__defaults__, py.__closure__)
    out.__qualname__ = name
    out.__doc__ = py.__doc__
    return out


#: :func:`~simulation.crowd.kernels.csm.csm_advance` on one thread (same arguments, same results).
csm_advance_serial = njit(cache=True)(_renamed(csm.csm_advance, "csm_advance_serial"))

# The step asks ``numba.get_thread_id()`` for its scratch row, which reads the threading layer's state:
# a process that never ran a parallel kernel has not started that layer, and the call crashed it
# (SIGSEGV). Asking for the number of threads starts the layer.
csm.get_threads()
