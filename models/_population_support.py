"""Support of :class:`models.population_network.PopulationRateNetwork`: packed rules and inputs.

``_KernelArgs`` packs the rules of the plastic projections into the arrays
:func:`models._population_kernels.run_chunk` takes (and unpacks the advanced states);
``_PopulationInputs`` turns the external input (a form for all neurons, or a dict of forms per
population) into ``(m, n)`` blocks.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from models._rate_support import InputSource


class _KernelArgs:
    """The packed rules of the plastic projections, as the arrays ``run_chunk`` takes."""

    def __init__(self, net: Any, plastic: dict[str, Any]) -> None:
        from plasticity.rules._base import PackedRule, check_weights_in_bounds

        npop, n = len(net.population_list), net.n
        index = {p.name: k for k, p in enumerate(net.population_list)}
        self.proj = np.full((npop, npop), -1, np.int64)
        for pr in net.projections.values():
            self.proj[index[pr.target], index[pr.source]] = 0
        self.net, self.packed, self.names = net, [], list(plastic)
        q_target, q_terms, kinds, soff, poff, q_neuron, lo, hi, rows, params = [], [0], [], [], [], [], [], [], [], []
        row0, par0 = 0, 0
        for q, name in enumerate(self.names):
            pr, rule = net.projections[name], plastic[name]
            t = net.populations[pr.target]
            pk = PackedRule(rule, net.plasticity_state[name], t.stop - t.start)
            self.packed.append(pk)
            self.proj[index[pr.target], index[pr.source]] = q + 1
            q_target.append(index[pr.target])
            kinds.extend(pk.kinds)
            q_terms.append(q_terms[-1] + len(pk.kinds))
            soff.extend(row0 + pk.soff)
            poff.extend(par0 + pk.poff)
            q_neuron.append(row0 + pk.neuron_rows if pk.neuron_rows >= 0 else -1)
            rlo, rhi = rule.weight_bounds()
            lo.append(max(pr.w_min, rlo))
            hi.append(min(pr.w_max, rhi))
            if not lo[-1] < hi[-1]:
                raise ValueError(f"RateNetwork.run: plasticity[{name!r}] has weight bounds [{rlo}, {rhi}] that do not "
                                 f"overlap projection {name!r}'s [{pr.w_min}, {pr.w_max}]")
            block = net._W[t, net.populations[pr.source]]  # a view; absent synapses are stored as ABSENT < 0
            check_weights_in_bounds(f"RateNetwork.run: plasticity[{name!r}]", block, lo[-1], hi[-1], absent_below=0.0,
                                    where=f"weights({name!r})")  # else the kernel would clip them silently
            S = np.zeros((pk.S.shape[0], n))
            S[:, :t.stop - t.start] = pk.S
            rows.append(S)
            params.append(pk.P)
            row0 += S.shape[0]
            par0 += pk.P.size
        nq = len(self.names)
        self.arrays = (
            np.array(q_target, np.int64), np.array(q_terms, np.int64), np.array(kinds, np.int64),
            np.array(soff, np.int64), np.array(poff, np.int64),
            np.ascontiguousarray(np.concatenate(rows)) if rows else np.zeros((1, n)),
            np.concatenate(params) if params else np.zeros(1), np.array(q_neuron, np.int64),
            np.array(lo or [0.0], dtype=net._W.dtype), np.array(hi or [math.inf], dtype=net._W.dtype),
            np.zeros((max(nq, 1), n)), np.zeros((max(nq, 1), n)), np.zeros((max(nq, 1), n)),
        )
        self._row_start = np.cumsum([0] + [r.shape[0] for r in rows])
        # Gains and thresholds are the neurons' own state: a run without an intrinsic term keeps
        # them as the last one left them (as as_system does); a run with one starts from its state.
        for q, name in enumerate(self.names):
            if q_neuron[q] >= 0:
                t = net.populations[net.projections[name].target]
                net._thr[t] = self.arrays[5][q_neuron[q], :t.stop - t.start]
                net._gain[t] = self.arrays[5][q_neuron[q] + 1, :t.stop - t.start]

    def rule_arrays(self) -> tuple:
        return self.arrays

    def unpack(self) -> None:
        S = self.arrays[5]
        for q, pk in enumerate(self.packed):
            width = pk.S.shape[1]
            pk.S[...] = S[self._row_start[q]:self._row_start[q + 1], :width]
            pk.unpack()


class _PopulationInputs:
    """External input of a population network as ``(m, n)`` blocks (``m = 1``: constant)."""

    def __init__(self, owner: str, inputs: Any, steps: int, populations: dict[str, slice], t0: float,
                 dt_time: float) -> None:
        n = max(s.stop for s in populations.values())
        self.n = n
        if isinstance(inputs, dict):
            for name in inputs:
                if name not in populations:
                    raise ValueError(f"{owner}: inputs keys must name a population {list(populations)}; got {name!r}")
            self.parts = [(populations[k], InputSource(f"{owner} inputs[{k!r}]", v, steps,
                                                       populations[k].stop - populations[k].start, t0, dt_time))
                          for k, v in inputs.items()]
        else:
            self.parts = [(slice(0, n), InputSource(owner, inputs, steps, n, t0, dt_time))]
        self.max_chunk = min(src.max_chunk for _, src in self.parts) if self.parts else steps

    def chunk(self, k0: int, k1: int) -> np.ndarray:
        blocks = [(sl, src.chunk(k0, k1)) for sl, src in self.parts]
        m = max((b.shape[0] for _, b in blocks), default=1)
        out = np.zeros((m, self.n))
        for sl, b in blocks:
            out[:, sl] = b
        return out
