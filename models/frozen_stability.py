"""Stability of a rate network frozen at its current state: effective connectivity, spectral abscissa, Lyapunov exponent.

For the rate flow ``tau_i dx_i/dt = -x_i + sum_j W_ij phi_j(x_j) + b_i`` (``net.as_system()``)
linearised at the state ``x``::

    J = (-1 + W diag(phi'(x))) / tau        (Jacobian of the flow, per unit time)
    W_eff = tau J + 1 = W diag(phi'(x))      (effective connectivity: active inputs only)

:func:`frozen_stability` returns ``rho(W_eff)`` (spectral radius: > 1 means the active
recurrent loop amplifies), ``max Re lambda(J)`` (spectral abscissa: < 0 means ``x`` is a stable
fixed point, if it is one) and the largest Lyapunov exponent of the frozen flow started at ``x``
(:func:`plasticity.metrics.max_lyapunov`, RK4; per unit time). The weights and the learned
gains/thresholds are those the network holds (``as_system`` captures them); nothing is run.

References: Benettin, Galgani, Giorgilli & Strelcyn (1980) Meccanica 15:9 (Lyapunov exponents);
Sompolinsky, Crisanti & Sommers (1988) Phys Rev Lett 61:259 (the Jacobian of rate networks).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["frozen_stability"]


def frozen_stability(net, tau: np.ndarray, lyap_steps: int = 300, dt: float = 0.1) -> tuple[dict, list[str]]:
    """Spectral radius of W_eff, spectral abscissa of J and max Lyapunov exponent at ``net.x``.

    Parameters
    ----------
    net : RateNetwork
        Any rate network with ``as_system()``, ``x`` and ``W``; not run or modified.
    tau : (n,) array
        Each neuron's time constant (as in the network), to form ``W_eff = tau J + 1``.
    lyap_steps : int
        RK4 steps of ``dt`` for the Lyapunov exponent (the trajectory from ``net.x``).
    dt : float
        Step of the Lyapunov integration (time units of the network).

    Returns
    -------
    (dict, list of str)
        ``{"spectral_radius", "spectral_abscissa", "max_lyapunov"}`` (NaN where not measurable)
        and the reasons for any NaN.
    """
    # numpy's OpenBLAS on one thread: sweep workers share the cores, and two workers with two
    # BLAS threads each made one eigvals 20-50x slower on a shared 2-core machine
    from plasticity.metrics import max_lyapunov, spectral_radius
    from plasticity._threads import numpy_blas_single_thread

    reasons: list[str] = []
    x = np.asarray(net.x, dtype=float)
    W = net.W
    tau = np.asarray(tau, dtype=float)
    if tau.shape != x.shape:
        raise ValueError(f"frozen_stability: tau has shape {tau.shape}; expected {x.shape} = (net.n,)")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(W))):
        reasons.append("spectral radius, Lyapunov: state or weights non-finite")
        return {"spectral_radius": math.nan, "spectral_abscissa": math.nan, "max_lyapunov": math.nan}, reasons
    system = net.as_system()
    J = system.jacobian(x)
    W_eff = tau[:, None] * J + np.eye(net.n)
    with numpy_blas_single_thread(), np.errstate(all="ignore"):
        out = {"spectral_radius": float(spectral_radius(W_eff)),
               "spectral_abscissa": float(np.max(np.linalg.eigvals(J).real))}
        try:
            lam = float(max_lyapunov(system, x, steps=lyap_steps, dt=dt))
        except (FloatingPointError, ValueError, OverflowError) as exc:  # trajectory left the floats
            lam = math.nan
            reasons.append(f"max_lyapunov: {exc!r}")
    if not math.isfinite(lam) and not reasons:
        reasons.append("max_lyapunov: the frozen trajectory from the final state overflowed")
        lam = math.nan
    out["max_lyapunov"] = lam
    return out, reasons
