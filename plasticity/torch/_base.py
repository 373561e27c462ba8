"""What every torch rule shares: parameters declared by the numpy twin, floats/tensors/Parameters, checks.

(The parameter checks live in :mod:`plasticity.torch._params`; the row-affine rules, a subclass,
in :mod:`plasticity.torch._row_affine`.)

A torch rule is a ``torch.nn.Module`` so that a rule held by a model contributes its
``torch.nn.Parameter`` s to ``model.parameters()`` and moves with ``model.to(device)``.

**Twins.** The differentiable twin of a numpy rate rule declares only what is torch-specific:
its NamedTuple state and its differentiable ``_coefficients`` (and, if a state field's initial
value is not the parameter ``<field>0``, where it starts)::

    class BCM(RowAffineRule, twin_of=plasticity.rules.BCM):
        state_class = BCMState                       # fields must equal BCM.state_fields

        def _coefficients(self, y, state, dt):       # -> (a, b, c, state_new)
            ...

Everything else is read from the numpy dataclass when the class is created
(:meth:`TorchRule.__init_subclass__`): the parameter names, order and defaults
(``dataclasses.fields``), ``constraints``, the weight ``bounds``, ``acts_on_neurons``, and
a generated ``__init__(*args, **kwargs)`` that binds its arguments like the dataclass's.
Cross-parameter checks are the numpy rule's own ``_check_together``, run on the plain values
(or, for tensor parameters, once per element), so errors read exactly as the numpy ones.

Parameters are stored by kind:

- a Python number is validated like the numpy rule (same constraint, same message) and kept
  as a float: it works with any dtype and device;
- a ``torch.nn.Parameter`` is registered as a parameter (learnable, e.g. meta-learned);
- any other tensor is registered as a buffer (moves with ``.to()``, not learned);
- a parameter without a declared range (``IntrinsicPlasticity.adapt_gain``, ``eta_gain``) is
  checked by ``_check_together`` only and kept as given (a tensor is registered as above).

Tensor parameters are validated elementwise at construction (once; during learning they may
leave the range, which is the learner's business). A tensor parameter is a scalar or
broadcastable to ``(*batch, n_post)`` (one value per postsynaptic neuron).

The step is functional (Norse style): ``W_new, state_new = rule.update(W, pre, post, state, dt)``
with ``W`` of shape ``(*batch, n_post, n_pre)``, ``pre`` ``(*batch, n_pre)``, ``post``
``(*batch, n_post)`` and a NamedTuple state whose fields are ``(*batch, n_post)``. Nothing is
modified in place. Per-step checks are O(1) (shapes and dtypes only): a scan for NaN would
synchronise a GPU every step.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
from numbers import Real
from typing import Any, ClassVar, NamedTuple

import torch

from plasticity._validation import Interval, check_number
from plasticity.torch._params import (
    _batch_shape,
    _check_sizes,
    _full,
    _numpy_check_together,
    _torch_dtype,
    check_tensor_param,
)

__all__ = ["TorchRule", "check_tensor_param", "twin_class"]

# numpy rule class -> its torch twin (filled by TorchRule.__init_subclass__)
_TWINS: dict[type, type] = {}


def twin_class(numpy_cls: type) -> type:
    """The torch twin of a numpy rule class; ``TypeError`` if it has none."""
    try:
        return _TWINS[numpy_cls]
    except (KeyError, TypeError):
        name = getattr(numpy_cls, "__name__", repr(numpy_cls))
        raise TypeError(f"{name} has no torch twin in plasticity.torch") from None


class TorchRule(torch.nn.Module):
    """Base of the differentiable rules (see the module docstring)."""

    constraints: ClassVar[dict[str, Interval]] = {}
    state_class: ClassVar[type] = NamedTuple  # set by subclasses
    #: the numpy rule this class is the twin of (None: not a twin, e.g. PolynomialRule)
    twin: ClassVar[type | None] = None
    #: constructor parameters, in the numpy dataclass's order (read from it for twins)
    param_names: ClassVar[tuple[str, ...]] = ()
    #: state field -> the parameter (name) or constant it starts at; default ``<field>0``
    initial: ClassVar[dict[str, str | float]] = {}
    acts_on_neurons: ClassVar[bool] = False
    clips_to_bounds: ClassVar[bool] = False  # True: a twin takes its numpy rule's weight bounds (row-affine rules)

    def __init_subclass__(cls, twin_of: type | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if twin_of is not None:
            cls._declare_twin(twin_of)

    @classmethod
    def _declare_twin(cls, numpy_cls: type) -> None:
        from plasticity.rules._base import Rule

        name = cls.__name__
        if not (isinstance(numpy_cls, type) and issubclass(numpy_cls, Rule) and dataclasses.is_dataclass(numpy_cls)):
            raise TypeError(f"{name}: twin_of must be a numpy rule dataclass from plasticity.rules; got {numpy_cls!r}")
        fields = [f for f in dataclasses.fields(numpy_cls) if f.init]
        params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        for f in fields:
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = inspect.Parameter.empty
            params.append(inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
        cls.twin = numpy_cls
        cls.param_names = tuple(f.name for f in fields)
        cls.constraints = dict(numpy_cls.constraints)
        cls.acts_on_neurons = bool(getattr(numpy_cls, "acts_on_neurons", False))
        if cls.clips_to_bounds:
            cls.w_bounds = getattr(numpy_cls, "bounds", None)
        # the state: declared here (torch-specific), but its fields are the numpy rule's
        state_cls = cls.__dict__.get("state_class")
        numpy_fields = tuple(getattr(numpy_cls, "state_fields", ()))
        if not (isinstance(state_cls, type) and issubclass(state_cls, tuple) and hasattr(state_cls, "_fields")):
            raise TypeError(f"{name}: a twin must declare state_class, a NamedTuple with the fields {numpy_fields} "
                            f"of {numpy_cls.__name__}.state_fields; got {state_cls!r}")
        if tuple(state_cls._fields) != numpy_fields:
            raise TypeError(f"{name}: {state_cls.__name__} has the fields {tuple(state_cls._fields)}; expected "
                            f"{numpy_fields} = {numpy_cls.__name__}.state_fields (same names, same order)")
        if cls._initial_state is TorchRule._initial_state:
            for f in numpy_fields:
                src = cls.initial.get(f, f"{f}0")
                if isinstance(src, str) and src not in cls.param_names:
                    raise TypeError(f"{name}: no initial value for state field {f!r} (no parameter {src!r}); declare "
                                    f"initial = {{{f!r}: <parameter name or number>}} or override _initial_state")
        sig = inspect.Signature(params)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            TorchRule.__init__(self)
            try:
                bound = sig.bind(self, *args, **kwargs)
            except TypeError as err:
                raise TypeError(f"{name}: {err}") from None
            bound.apply_defaults()
            values = dict(bound.arguments)
            del values["self"]
            self._init_params(values)

        __init__.__signature__ = sig
        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        __init__.__doc__ = f"Parameters as :class:`{numpy_cls.__module__}.{numpy_cls.__name__}`; floats, tensors or Parameters."
        cls.__init__ = __init__
        _TWINS.setdefault(numpy_cls, cls)

    @classmethod
    def from_numpy(cls, rule: Any) -> TorchRule:
        """The torch twin of a numpy rate rule instance, with the same parameter values.

        Called on :class:`TorchRule` it picks the twin class of ``rule``; a numpy
        :class:`~plasticity.rules.Combined` becomes a torch ``Combined`` of the terms' twins.
        """
        from plasticity.rules.combined import Combined as NumpyCombined

        if isinstance(rule, NumpyCombined):
            from plasticity.torch.rules import Combined

            return Combined(*(TorchRule.from_numpy(t) for t in rule.terms()))
        target = twin_class(type(rule)) if cls.twin is None else cls
        if not isinstance(rule, target.twin):
            raise TypeError(f"{target.__name__}.from_numpy: expected a {target.twin.__name__}; got {type(rule).__name__}")
        return target(**{n: getattr(rule, n) for n in target.param_names})

    # -- parameters ---------------------------------------------------------------------
    def _init_params(self, values: dict[str, Any]) -> None:
        """Validate the bound constructor arguments like the numpy twin, then store them."""
        for name, allowed in self.constraints.items():  # in the numpy class's order of checks
            self._check_param(name, values[name], allowed)
        for name, value in values.items():  # registered in the order of the parameters
            self._store_param(name, value)
        self._check_together_like_numpy(values)

    def _check_together_like_numpy(self, values: dict[str, Any]) -> None:
        """The numpy rule's cross-parameter checks: on the values, or per element of tensors."""
        from plasticity.rules._base import Rule

        numpy_cls = self.twin
        if numpy_cls is None or numpy_cls._check_together is Rule._check_together:
            return
        tensors = {n: v for n, v in values.items() if isinstance(v, torch.Tensor)}
        if not tensors:
            _numpy_check_together(numpy_cls, values)
            return
        try:
            shape = torch.broadcast_shapes(*(t.shape for t in tensors.values()))
        except RuntimeError:
            return  # incompatible shapes: check_shapes reports them
        flat = {n: t.detach().cpu().broadcast_to(shape).reshape(-1) for n, t in tensors.items()}
        for k in range(math.prod(shape)):
            _numpy_check_together(numpy_cls, {**values, **{n: f[k].item() for n, f in flat.items()}})

    def _check_param(self, name: str, value: Any, allowed: Interval) -> None:
        owner = type(self).__name__
        if isinstance(value, torch.Tensor):
            check_tensor_param(owner, name, value, allowed)
        else:
            check_number(owner, name, value, allowed)

    def _store_param(self, name: str, value: Any) -> None:
        if isinstance(value, torch.nn.Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, torch.Tensor):
            # kept as given (not detached): a tensor computed from something learned stays in
            # the graph; rules never write to their parameters, so sharing it is safe
            self.register_buffer(name, value)
        elif name in self.constraints:
            setattr(self, name, float(value))
        else:
            setattr(self, name, value)  # no declared range: checked by _check_together, kept as is

    def _param_device(self) -> torch.device | None:
        for t in self._tensors():
            return t.device
        return None

    def _tensors(self):
        yield from self.parameters()
        yield from self.buffers()

    def check_shapes(self, n_post: int, n_pre: int) -> None:
        """Raise ``ValueError`` if a tensor parameter cannot broadcast to ``(n_post,)``.

        Models call this at construction, so that an incompatible rule fails there and not
        at the first step.
        """
        owner = type(self).__name__
        for name, t in list(self.named_parameters(recurse=False)) + list(self.named_buffers(recurse=False)):
            try:
                torch.broadcast_shapes(t.shape, (n_post,))
                ok = t.ndim <= 1
            except RuntimeError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{owner}.{name} has shape {tuple(t.shape)}; expected a scalar or a tensor "
                    f"broadcastable to ({n_post},) = n_post"
                )

    def extra_repr(self) -> str:
        parts = []
        for name in self.param_names or tuple(self.constraints):
            v = getattr(self, name, None)
            if isinstance(v, torch.Tensor):
                v = f"{float(v.detach()):g}" if v.numel() == 1 else f"tensor{tuple(v.shape)}"
            parts.append(f"{name}={v}")
        return ", ".join(parts)

    # -- the contract -------------------------------------------------------------------
    def init_state(
        self,
        n_post: int,
        n_pre: int,
        batch: int | tuple[int, ...] = (),
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Any:
        """The initial state: a NamedTuple of ``(*batch, n_post)`` tensors.

        ``dtype`` defaults to ``torch.get_default_dtype()``; ``device`` to the device of the
        rule's tensor parameters (or the default device when it has none).
        """
        owner = type(self).__name__
        n_post, _ = _check_sizes(owner, n_post, n_pre)
        shape = _batch_shape(owner, batch) + (n_post,)
        dtype = torch.get_default_dtype() if dtype is None else _torch_dtype(owner, dtype)
        device = self._param_device() if device is None else device
        return self._initial_state(shape, dtype, device)

    def _initial_state(self, shape: tuple[int, ...], dtype: torch.dtype, device: Any) -> Any:
        """Each state field filled with its :attr:`initial` source (default: parameter ``<field>0``)."""
        values = []
        for f in self.state_class._fields:
            src = self.initial.get(f, f"{f}0")
            values.append(_full(shape, getattr(self, src) if isinstance(src, str) else float(src), dtype, device))
        return self.state_class(*values)

    def update(self, W: torch.Tensor, pre: torch.Tensor, post: torch.Tensor, state: Any, dt: float):
        """One explicit-Euler step of length ``dt``; returns ``(W_new, state_new)``.

        Parameters
        ----------
        W : (*batch, n_post, n_pre) tensor
            Weights ``W[post, pre]``. Not modified.
        pre, post : (*batch, n_pre), (*batch, n_post) tensors
            Presynaptic ``x`` and postsynaptic ``y`` activities. Not modified.
        state : NamedTuple
            From :meth:`init_state` or a previous ``update``. Not modified.
        dt : float
            Step length in model time units, in (0, inf).
        """
        self._check_step(W, pre, post, state, dt)
        return self._step(W, pre, post, state, dt)

    def _step(self, W, pre, post, state, dt):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_step(self, W: Any, pre: Any, post: Any, state: Any, dt: Any) -> None:
        owner = f"{type(self).__name__}.update"
        for name, t in (("W", W), ("pre", pre), ("post", post)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{owner}: {name} must be a torch.Tensor; got {type(t).__name__}")
            if not t.is_floating_point():
                raise TypeError(f"{owner}: {name} must have a floating dtype; got {t.dtype}")
        if W.ndim < 2:
            raise ValueError(f"{owner}: W must have shape (*batch, n_post, n_pre); got {tuple(W.shape)}")
        n_post, n_pre = W.shape[-2], W.shape[-1]
        for name, t, n, what in (("pre", pre, n_pre, "n_pre"), ("post", post, n_post, "n_post")):
            if t.ndim < 1 or t.shape[-1] != n:
                raise ValueError(
                    f"{owner}: {name} has shape {tuple(t.shape)}; expected (*batch, {n}) = {what} "
                    f"from W[post, pre] of shape {tuple(W.shape)}"
                )
        tensors = self._check_state(owner, "state", state, W)
        try:
            torch.broadcast_shapes(W.shape[:-2], pre.shape[:-1], post.shape[:-1], *(t.shape[:-1] for t in tensors))
        except RuntimeError:
            raise ValueError(
                f"{owner}: batch shapes do not broadcast: W {tuple(W.shape)}, pre {tuple(pre.shape)}, "
                f"post {tuple(post.shape)}, state {[tuple(t.shape) for t in tensors]}"
            ) from None
        # one dtype and one device: torch would promote float32 W to float64 (or fail deep inside)
        named = [("pre", pre), ("post", post)] + [(f"state tensor {k}", t) for k, t in enumerate(tensors)]
        for name, t in named:
            if t.dtype != W.dtype:
                raise TypeError(f"{owner}: {name} has dtype {t.dtype}; expected {W.dtype}, the dtype of W "
                                f"(init_state(..., dtype=W.dtype) makes a matching state)")
            if t.device != W.device:
                raise ValueError(f"{owner}: {name} is on device {t.device}; expected {W.device}, the device of W")
        terms = self.terms() if hasattr(self, "terms") else (self,)
        for name, value in ((n, getattr(term, n, None)) for term in terms for n in term.param_names):
            if isinstance(value, torch.Tensor) and value.ndim:
                try:
                    torch.broadcast_shapes(value.shape, W.shape[:-1])
                except RuntimeError:
                    raise ValueError(f"{owner}: parameter {name} has shape {tuple(value.shape)}; expected a scalar "
                                     f"or a shape that broadcasts to (*batch, n_post) = {tuple(W.shape[:-1])}") from None
        if isinstance(dt, torch.Tensor):
            if dt.numel() != 1 or not dt.is_floating_point() and dt.dtype not in (torch.int32, torch.int64):
                raise ValueError(f"{owner}: dt must be a number in (0, inf); got a tensor of shape {tuple(dt.shape)}")
            value = float(dt.detach())
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{owner}: dt must be a number in (0, inf); got {dt!r}")
            return
        if isinstance(dt, bool) or not isinstance(dt, Real) or not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"{owner}: dt must be a number in (0, inf); got {dt!r}")

    def _check_state(self, owner: str, where: str, state: Any, W: torch.Tensor) -> list[torch.Tensor]:
        """Raise unless ``state`` is this rule's state for ``W``; return its tensors."""
        n_post = W.shape[-2]
        if not isinstance(state, self.state_class):
            raise TypeError(f"{owner}: {where} must be a {self.state_class.__name__} from init_state; "
                            f"got {type(state).__name__}")
        for name, t in zip(state._fields, state):
            if t.shape[-1:] != (n_post,):
                raise ValueError(
                    f"{owner}: {where}.{name} has shape {tuple(t.shape)}; expected (*batch, {n_post}) = n_post "
                    f"from W[post, pre] of shape {tuple(W.shape)}"
                )
        return list(state)

