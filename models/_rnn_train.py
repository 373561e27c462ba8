"""The training loop of :mod:`models.rnn`: BPTT with Adam, checkpoints that resume, stability metrics.

``train(model, task, steps, lr, ...)`` minimises the mean squared error between
``model(inputs)`` and ``targets`` over batches drawn from ``task`` (an iterator of
``(inputs, targets)``, e.g. :func:`models.tasks.flipflop`). Every ``metrics_every`` steps it
records the stability of the recurrent dynamics:

- spectral radius and spectral norm of ``W_hh`` (the trained recurrent matrix);
- the gradient norm through time: for the loss of the last step of the trial alone, ``L_T``,
  the norms ``||dL_T/dh_0||`` and ``||dL_T/dh_{T-1}||`` (batch means of per-trial norms). Their
  ratio is how much a gradient grows or shrinks over the trial: far below 1 is vanishing, far
  above 1 exploding (Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013, ICML);
- optionally (``lyapunov=True``) the largest Lyapunov exponent (per step) of the autonomous
  dynamics ``model.as_system()`` started from the final state of the first trial.

Checkpoints (``checkpoint_dir``): every ``checkpoint_every`` steps and at the end, a dict of
tensors and plain values (model and optimiser state dicts, the step, the torch RNG state, the
history so far, the model's class and parameter shapes) written with ``torch.save`` to a
temporary file and renamed (atomic); read back with ``torch.load(..., weights_only=True)`` (no
arbitrary unpickling). A new call with the same ``checkpoint_dir`` resumes from the newest one
(an unreadable newest checkpoint is skipped, with a warning naming it, for the one before; the
temporaries of a run killed while saving are removed);
it skips the batches already used, so with a fresh task generator of the same seed the resumed
run equals an uninterrupted one exactly (on the same machine and torch build).
"""
from __future__ import annotations

import math
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from models._rnn_base import _LeakyRNNBase
from plasticity._validation import (
    Interval,
    as_rng,
    check_choice,
    check_number,
    nonnegative,
    positive,
)

__all__ = ["train", "TrainingHistory"]

_CKPT = re.compile(r"^checkpoint_(\d{8})\.pt$")
_FORMAT = 1
_count = Interval(1, math.inf, closed="left", integer=True)


@dataclass
class TrainingHistory:
    """What :func:`train` returns: per-step and per-metrics-step arrays.

    Attributes
    ----------
    steps, loss, grad_norm : (n,) arrays
        Optimisation step (0-based), training loss (MSE) and the parameter-gradient norm before
        clipping, for every step taken.
    metric_steps : (m,) int array
        Steps at which the stability metrics below were measured.
    spectral_radius, spectral_norm : (m,) arrays
        Of ``W_hh`` after that step's update (NaN for a model without ``W_hh``).
    grad_first, grad_last : (m,) arrays
        ``||dL_T/dh_t||`` at ``t = 0`` and ``t = T - 1`` for the last step's loss ``L_T`` (batch
        mean of per-trial norms; NaN for a model without hidden states).
    lyapunov : (m,) array
        Largest Lyapunov exponent per step of ``model.as_system()`` (NaN when not measured).
    diverged : bool
        The loss became non-finite; training stopped at ``diverged_at`` (a step), keeping the rest.
    """

    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grad_norm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    metric_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    spectral_radius: np.ndarray = field(default_factory=lambda: np.zeros(0))
    spectral_norm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grad_first: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grad_last: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lyapunov: np.ndarray = field(default_factory=lambda: np.zeros(0))
    diverged: bool = False
    diverged_at: int | None = None

    _per_step = ("steps", "loss", "grad_norm")
    _per_metric = ("metric_steps", "spectral_radius", "spectral_norm", "grad_first", "grad_last", "lyapunov")

    def _append(self, **values: float) -> None:
        for name, v in values.items():
            old = getattr(self, name)
            setattr(self, name, np.append(old, np.asarray(v, dtype=old.dtype)))

    def to_dataframe(self):
        """One row per step; the metric columns hold NaN on steps where they were not measured."""
        import pandas as pd

        df = pd.DataFrame({name: getattr(self, name) for name in self._per_step})
        metrics = pd.DataFrame({name: getattr(self, name) for name in self._per_metric}).rename(columns={"metric_steps": "steps"})
        return df.merge(metrics, on="steps", how="left")

    def _to_checkpoint(self) -> dict[str, Any]:
        out = {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name))) for name in self._per_step + self._per_metric}
        out["diverged_at"] = -1 if self.diverged_at is None else int(self.diverged_at)
        return out

    @classmethod
    def _from_checkpoint(cls, d: dict[str, Any]) -> "TrainingHistory":
        h = cls(**{name: d[name].numpy().copy() for name in cls._per_step + cls._per_metric})
        if d["diverged_at"] >= 0:
            h.diverged, h.diverged_at = True, int(d["diverged_at"])
        return h


def _signature(model: torch.nn.Module) -> dict[str, Any]:
    return {
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "shapes": {k: list(v.shape) for k, v in model.state_dict().items()},
    }


def _checkpoints(directory: str) -> list[str]:
    """The checkpoint files of ``directory``, newest first."""
    if not os.path.isdir(directory):
        return []
    return [os.path.join(directory, f) for f in sorted((f for f in os.listdir(directory) if _CKPT.match(f)), reverse=True)]


def _load_latest(directory: str) -> tuple[str, dict[str, Any]] | None:
    """The newest readable checkpoint ``(path, payload)``; an unreadable one (a torn or corrupt
    file) is skipped with a warning naming it, for the one before it."""
    for path in _checkpoints(directory):
        try:
            return path, torch.load(path, weights_only=True)
        except Exception as e:  # torch raises RuntimeError, pickle.UnpicklingError, EOFError, ... for a bad file
            warnings.warn(f"train: checkpoint {path!r} is unreadable ({type(e).__name__}: {str(e).splitlines()[0]:.200}); "
                          "resuming from the checkpoint before it", RuntimeWarning, stacklevel=3)
    return None


def _clean_temporaries(directory: str) -> None:
    """Remove temporaries (``.checkpoint_*.tmp``) left by a run killed while it saved."""
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        if name.startswith(".checkpoint_") and name.endswith(".tmp"):
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass


def _next_batch(owner: str, batches: Any, step: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        batch = next(batches)
    except StopIteration:
        raise ValueError(f"{owner}: task must yield at least steps={steps} batches; it ran out at step {step}") from None
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2
            and all(isinstance(a, torch.Tensor) for a in batch)):
        raise TypeError(f"{owner}: task must yield (inputs, targets) pairs of tensors; got {batch!r:.80} of type "
                        f"{type(batch).__name__} at step {step}")
    return batch[0], batch[1]


def _save_checkpoint(directory: str, step: int, payload: dict[str, Any], keep: int) -> None:
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint_", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, os.path.join(directory, f"checkpoint_{step:08d}.pt"))
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    old = sorted(f for f in os.listdir(directory) if _CKPT.match(f))
    for name in old[:-keep]:
        os.remove(os.path.join(directory, name))


def _check_signature(directory: str, path: str, saved: dict[str, Any], model: torch.nn.Module) -> None:
    mine = _signature(model)
    if saved.get("format") != _FORMAT or saved.get("signature") is None:
        raise ValueError(f"train: checkpoint_dir {directory!r} holds {os.path.basename(path)}, which is not a train() checkpoint")
    theirs = saved["signature"]
    if theirs["class"] != mine["class"] or theirs["shapes"] != mine["shapes"]:
        diff = [k for k in set(theirs["shapes"]) | set(mine["shapes"]) if theirs["shapes"].get(k) != mine["shapes"].get(k)]
        raise ValueError(
            f"train: checkpoint_dir {directory!r} holds a checkpoint of another model: it was written by "
            f"{theirs['class']} and this is {mine['class']}; parameters that differ in name or shape: {sorted(diff)}"
        )


def _gradient_through_time(model: torch.nn.Module, outputs: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    """``||dL_T/dh_0||`` and ``||dL_T/dh_{T-1}||`` for the last step's loss (before the main backward)."""
    hs = getattr(model, "hidden_states", None)
    if not hs or not hs[0].requires_grad or outputs.ndim != 3:
        return math.nan, math.nan
    last = F.mse_loss(outputs[:, -1], targets[:, -1])
    g0, g1 = torch.autograd.grad(last, [hs[0], hs[-1]], retain_graph=True, allow_unused=True)
    if g0 is None or g1 is None:
        return math.nan, math.nan
    return float(g0.norm(dim=-1).mean()), float(g1.norm(dim=-1).mean())


def _stability(model: torch.nn.Module, lyapunov: bool, lyapunov_steps: int) -> dict[str, float]:
    out = dict(spectral_radius=math.nan, spectral_norm=math.nan, lyapunov=math.nan)
    W = getattr(model, "W_hh", None)
    if isinstance(W, torch.Tensor):
        Wd = W.detach().double().cpu()
        out["spectral_radius"] = float(torch.linalg.eigvals(Wd).abs().max())
        out["spectral_norm"] = float(torch.linalg.matrix_norm(Wd, ord=2))
    hs = getattr(model, "hidden_states", None)
    if hs:
        if lyapunov and hasattr(model, "as_system"):
            from plasticity.metrics import max_lyapunov

            x0 = hs[-1][0].detach().double().cpu().numpy()
            out["lyapunov"] = max_lyapunov(model.as_system(), x0, steps=lyapunov_steps, transient=lyapunov_steps // 4)
    return out


def train(
    model: torch.nn.Module,
    task: Any,
    steps: int,
    lr: float,
    seed: Any = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
    *,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    clip_grad: float | None = None,
    checkpoint_every: int = 100,
    keep_checkpoints: int = 2,
    metrics_every: int | None = 50,
    lyapunov: bool = False,
    lyapunov_steps: int = 200,
) -> TrainingHistory:
    """Train ``model`` on batches from ``task`` by BPTT; returns a :class:`TrainingHistory`.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``inputs`` to outputs of the shape of ``targets`` (:class:`models.rnn.RNN`,
        :class:`models.rnn.PlasticRNN`, or any module, e.g. a feedforward net for
        ``classification_2d``). Trained in place.
    task : iterator or iterable of (inputs, targets)
        E.g. ``models.tasks.flipflop(64, 100, seed=0)``. When resuming, pass a fresh generator
        with the same seed: the batches already used are skipped.
    steps : int
        Total number of optimisation steps (a resumed run trains the remainder), in [1, inf).
    lr : float
        Learning rate, in (0, inf).
    seed : int or numpy.random.Generator, optional
        Seeds torch's global RNG inside the loop (run in a forked RNG state, restored on exit),
        for models that draw random numbers while training.
    checkpoint_dir : path, optional
        Where checkpoints go and whence a run resumes (see the module docstring).
    progress : bool, optional
        tqdm bar; ``None`` shows it for runs of 1000 steps or more.
    optimizer : {"adam", "sgd"}
    weight_decay : float
        L2 weight decay of the optimiser, in [0, inf).
    clip_grad : float, optional
        Clip the global gradient norm to this value (``torch.nn.utils.clip_grad_norm_``).
    checkpoint_every, keep_checkpoints : int
        Checkpoint period in steps and how many of the newest checkpoints to keep.
    metrics_every : int or None
        The stability metrics are measured at steps ``0, metrics_every, 2 metrics_every, ...``;
        ``None`` disables them.
    lyapunov, lyapunov_steps : bool, int
        Also measure the max Lyapunov exponent of ``model.as_system()`` over ``lyapunov_steps``.
    """
    owner = "train"
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{owner}: model must be a torch.nn.Module; got {type(model).__name__}")
    check_number(owner, "steps", steps, _count)
    check_number(owner, "lr", lr, positive)
    check_number(owner, "weight_decay", weight_decay, nonnegative)
    check_choice(owner, "optimizer", optimizer, ("adam", "sgd"))
    if clip_grad is not None:
        check_number(owner, "clip_grad", clip_grad, positive)
    check_number(owner, "checkpoint_every", checkpoint_every, _count)
    check_number(owner, "keep_checkpoints", keep_checkpoints, _count)
    if metrics_every is not None:
        check_number(owner, "metrics_every", metrics_every, _count)
    check_number(owner, "lyapunov_steps", lyapunov_steps, _count)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{owner}: model has no trainable parameters")
    opt_cls = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
    try:
        batches = iter(task)
    except TypeError as e:
        raise TypeError(f"{owner}: task must be an iterator or iterable of (inputs, targets) pairs; got {task!r:.80} "
                        f"of type {type(task).__name__}") from e
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise TypeError(f"{owner}: checkpoint_dir must be a directory path or None; got {checkpoint_dir!r:.80}")
    directory = None if checkpoint_dir is None else os.fspath(checkpoint_dir)
    if directory is not None and os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"{owner}: checkpoint_dir must be a directory path or None (a directory, created if missing); "
                         f"got {directory!r}, which is an existing file")
    if directory is not None:
        _clean_temporaries(directory)
    opt = opt_cls(params, lr=lr, weight_decay=weight_decay)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(as_rng(seed).integers(2**62)))
        history, start = TrainingHistory(), 0
        latest = None if directory is None else _load_latest(directory)
        if latest is not None:
            path, saved = latest
            _check_signature(directory, path, saved, model)
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            for group in opt.param_groups:  # this call's lr and weight decay apply from here on
                group["lr"], group["weight_decay"] = lr, weight_decay
            torch.set_rng_state(saved["rng"])
            history, start = TrainingHistory._from_checkpoint(saved["history"]), int(saved["step"])
            for k in range(start):
                _next_batch(owner, batches, k, steps)
        if history.diverged:
            return history
        from tqdm.auto import tqdm

        show = progress if progress is not None else steps >= 1000
        bar = tqdm(total=steps, initial=min(start, steps), disable=not show, desc=owner)
        accepts_flags = isinstance(model, _LeakyRNNBase)
        for step in range(start, steps):
            inputs, targets = _next_batch(owner, batches, step, steps)
            # a fixed schedule (not "also the last step"), so a resumed run records what an
            # uninterrupted one does
            measure = metrics_every is not None and step % metrics_every == 0
            outputs = model(inputs, retain_hidden_grad=True) if (measure and accepts_flags) else model(inputs)
            if outputs.shape != targets.shape:
                raise ValueError(f"{owner}: model output has shape {tuple(outputs.shape)}; expected {tuple(targets.shape)} = targets' shape")
            loss = F.mse_loss(outputs, targets)
            if not torch.isfinite(loss):
                history.diverged, history.diverged_at = True, step
                break
            if measure:
                grad_first, grad_last = _gradient_through_time(model, outputs, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, math.inf if clip_grad is None else clip_grad)
            opt.step()
            history._append(steps=step, loss=float(loss.detach()), grad_norm=float(grad_norm))
            if measure:
                m = _stability(model, lyapunov, lyapunov_steps)
                history._append(metric_steps=step, grad_first=grad_first, grad_last=grad_last, **m)
                if accepts_flags:
                    model.hidden_states = None
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{float(loss.detach()):.3g}")
            done = step + 1
            if directory is not None and (done % checkpoint_every == 0 or done == steps):
                payload = {
                    "format": _FORMAT, "signature": _signature(model), "step": done,
                    "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "rng": torch.get_rng_state(), "history": history._to_checkpoint(),
                }
                _save_checkpoint(directory, done, payload, keep_checkpoints)
        bar.close()
    return history

