"""Progress bars that cost nothing when hidden.

``tqdm.auto`` picks the notebook widget inside Jupyter and warns there ("IProgress not
found") when ipywidgets is missing, even for a disabled bar; a hidden bar therefore never
imports tqdm at all. Install the ``notebooks`` extra for the widget.
"""
from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


class _Hidden:
    """The part of tqdm's interface the project uses, doing nothing."""

    n = 0

    def update(self, k: float = 1) -> None:
        self.n += k

    def set_description(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Hidden":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def progress_bar(show: bool, **kwargs: Any) -> Any:
    """``tqdm.auto.tqdm(**kwargs)`` when ``show``, else a do-nothing bar with the same methods."""
    if not show:
        return _Hidden()
    from tqdm.auto import tqdm

    return tqdm(**kwargs)
