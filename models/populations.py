"""Populations and projections of rate networks: the vocabulary shared with ``SpikingNetwork``.

A population is a group of neurons with one activation and one time constant, excitatory or
inhibitory. A projection connects a source population to a target population; its weights
are non-negative magnitudes and its sign is the source's (inhibitory sources subtract), so a
rule can never flip a synapse from excitatory to inhibitory. Projections are named source
first: ``"EE"`` is E to E, ``"IE"`` is I to E (as in ``SpikingNetwork``).

Activations are the entries of the one table :data:`plasticity.activations.ACTIVATIONS`
(``u`` the neuron's input, rates are non-negative except for ``tanh``/``linear``):

    relu            [u]_+                              threshold-linear
    rectified_tanh  max(0, tanh u)
    sigmoid         1 / (1 + exp(-u))
    power           k [u]_+^exponent                   stabilized supralinear network
                                                       (Ahmadian, Rubin & Miller 2013)
    tanh, linear    tanh u, u                          (signed; for comparison only)

and ``max_rate`` caps any of them: ``phi(u) = min(f(u), max_rate)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from plasticity._validation import Interval, check_choice, check_number, positive
from plasticity.activations import ACTIVATIONS

__all__ = ["RatePopulation", "RateProjection", "ACTIVATION_NAMES"]

#: Activation names of populations: the whole table, in the order of its kernel codes.
ACTIVATION_NAMES = tuple(ACTIVATIONS)
_size = Interval(1, closed="left", integer=True)
_extended_nonneg = Interval(0.0, math.inf, closed="both")


@dataclass(frozen=True)
class RatePopulation:
    """A population of rate neurons, ``tau dx/dt = -x + (recurrent input) + bias + I``, rate ``phi(x)``.

    Parameters
    ----------
    name : str
        Non-empty name (``"E"``, ``"I"``, ...); projections refer to it.
    n : int
        Number of neurons, in [1, inf).
    activation : str
        One of ``ACTIVATION_NAMES`` (see the module docstring).
    inhibitory : bool
        True: every projection from this population subtracts.
    tau : float
        Time constant, in (0, inf), model time units (flows; a map ignores it).
    max_rate : float or None
        Saturation rate, in (0, inf); None: no cap.
    k, exponent : float
        Gain and exponent of ``"power"``, each in (0, inf). (The API's ``n`` for the exponent
        would clash with the population size, hence ``exponent``.)
    bias : float
        Constant external input, in model units (the background drive of the quiet state).
    """

    name: str
    n: int
    activation: str = "relu"
    inhibitory: bool = False
    tau: float = 1.0
    max_rate: float | None = None
    k: float = 1.0
    exponent: float = 2.0
    bias: float = 0.0

    def __post_init__(self) -> None:
        owner = "RatePopulation"
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"{owner}.name must be a non-empty string; got {self.name!r}")
        check_number(owner, "n", self.n, _size)
        check_choice(owner, "activation", self.activation, ACTIVATION_NAMES)
        if not isinstance(self.inhibitory, (bool, np.bool_)):
            raise TypeError(f"{owner}.inhibitory must be True or False; got {self.inhibitory!r}")
        check_number(owner, "tau", self.tau, positive)
        if self.max_rate is not None:
            check_number(owner, "max_rate", self.max_rate, positive)
        check_number(owner, "k", self.k, positive)
        check_number(owner, "exponent", self.exponent, positive)
        check_number(owner, "bias", self.bias)


@dataclass(frozen=True)
class RateProjection:
    """Synapses from ``source`` to ``target``: non-negative magnitudes, the sign of the source.

    Parameters
    ----------
    source, target : str
        Population names. The projection's name is ``source + target`` (``"IE"``: I to E).
    p : float
        Connection probability, in (0, 1]: each possible synapse exists independently with
        probability ``p`` (no self-connections within one population). Absent synapses stay
        absent under plasticity.
    w : float or (n_target, n_source) array
        Magnitude of every synapse (a float), or of each (an array; entries where no synapse
        exists are ignored). Must lie in ``[w_min, w_max]``.
    w_min, w_max : float
        Bounds every rule on this projection respects, ``0 <= w_min < w_max <= inf``.
    """

    source: str
    target: str
    p: float = 1.0
    w: Any = 0.1
    w_min: float = 0.0
    w_max: float = math.inf

    def __post_init__(self) -> None:
        owner = "RateProjection"
        for name in ("source", "target"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise TypeError(f"{owner}.{name} must be a population name (a non-empty string); "
                                f"got {getattr(self, name)!r}")
        if not (isinstance(self.p, (int, float, np.floating)) and 0.0 < float(self.p) <= 1.0):
            raise ValueError(f"{owner}.p must be a number in (0, 1]; got {self.p!r}")
        check_number(owner, "w_min", self.w_min, _extended_nonneg)
        check_number(owner, "w_max", self.w_max, Interval(0.0, math.inf, closed="right"))
        if not self.w_min < self.w_max:
            raise ValueError(f"{owner}.w_min must be smaller than {owner}.w_max; got w_min={self.w_min!r}, "
                             f"w_max={self.w_max!r}")
        w = np.asarray(self.w)
        if w.dtype.kind not in "biuf":
            raise TypeError(f"{owner}.w must be a number or an (n_target, n_source) array of magnitudes; "
                            f"got {type(self.w).__name__}")
        if not np.all(np.isfinite(w)):
            raise ValueError(f"{owner}.w must be finite; got non-finite values")
        if w.size and (w.min() < self.w_min or w.max() > self.w_max):
            raise ValueError(f"{owner}.w must be a magnitude in [w_min, w_max] = [{self.w_min:g}, {self.w_max:g}]; "
                             f"got values in [{w.min():g}, {w.max():g}] (the sign comes from the source population)")

    @property
    def name(self) -> str:
        return self.source + self.target

    def __eq__(self, other: object) -> bool:  # arrays in ``w`` make the generated __eq__ ambiguous
        return isinstance(other, RateProjection) and self.name == other.name and self.p == other.p and \
            self.w_min == other.w_min and self.w_max == other.w_max and np.array_equal(self.w, other.w)

    __hash__ = None  # type: ignore[assignment]
