"""Run a block of torch code on a fixed number of intra-op threads, restored afterwards.

Small tensors gain nothing from torch's thread pool and lose to its synchronisation; on a
shared 2-core machine a 6 s meta-learning run took 60 s with 2 threads (measured). Sweep
points also run one per core, so each should use one thread.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """``with torch_threads(1): ...`` runs the block with ``torch.set_num_threads(n)``."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
