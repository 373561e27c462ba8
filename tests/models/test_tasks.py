"""Task generators: determinism, targets correct by construction, shapes, bad parameters."""
from __future__ import annotations

import math

import pytest
import torch

from models.tasks import classification_2d, delayed_match, flipflop, flipflop_accuracy, sign_accuracy


def take(gen, k):
    return [next(gen) for _ in range(k)]


@pytest.mark.parametrize(
    "make",
    [lambda s: flipflop(4, 30, seed=s), lambda s: delayed_match(4, seed=s), lambda s: classification_2d(8, seed=s)],
    ids=["flipflop", "delayed_match", "classification_2d"],
)
def test_same_seed_same_batches(make):
    a, b, c = take(make(7), 3), take(make(7), 3), take(make(8), 3)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not all(torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))
    assert a[0][0].dtype == torch.float32
    # successive batches of one generator differ (it is a stream, not one batch repeated)
    assert not torch.equal(a[0][0], a[1][0])


def test_flipflop_target_is_last_nonzero_input():
    x, y = next(flipflop(16, 80, n_bits=3, p_flip=0.1, seed=0))
    assert x.shape == y.shape == (16, 80, 3)
    assert set(torch.unique(x).tolist()) <= {-1.0, 0.0, 1.0}
    for b in range(16):
        for k in range(3):
            last = 0.0
            for t in range(80):
                if x[b, t, k] != 0:
                    last = float(x[b, t, k])
                assert y[b, t, k] == last
    assert flipflop_accuracy(y, y) == 1.0


def test_flipflop_pulse_rate():
    x, _ = next(flipflop(200, 100, n_bits=3, p_flip=0.05, seed=1))
    rate, n = float((x != 0).float().mean()), x.numel()
    assert abs(rate - 0.05) < 5 * math.sqrt(0.05 * 0.95 / n)  # 5 binomial standard errors


def test_delayed_match_structure():
    ts, td, tr, n_stim = 3, 4, 2, 5
    x, y = next(delayed_match(400, n_stimuli=n_stim, t_stimulus=ts, t_delay=td, t_response=tr, p_match=0.5, seed=2))
    T = 2 * ts + td + tr
    assert x.shape == (400, T, n_stim) and y.shape == (400, T, 1)
    sample = x[:, 0].argmax(-1)
    test = x[:, ts + td].argmax(-1)
    assert torch.all(x[:, :ts].sum(-1) == 1) and torch.all(x[:, ts : ts + td].sum(-1) == 0)
    assert torch.all(x[:, ts + td : 2 * ts + td].sum(-1) == 1) and torch.all(x[:, 2 * ts + td :].sum(-1) == 0)
    expected = torch.where(sample == test, 1.0, -1.0)
    assert torch.all(y[:, T - tr :, 0] == expected[:, None])
    assert torch.all(y[:, : T - tr] == 0)
    frac = float((sample == test).float().mean())
    assert abs(frac - 0.5) < 5 * math.sqrt(0.25 / 400)  # 5 binomial standard errors


def test_classification_2d_geometry_without_noise():
    x, y = next(classification_2d(500, kind="circles", noise=0.0, seed=3))
    r = x.norm(dim=-1)
    assert x.shape == (500, 2) and y.shape == (500, 1)
    torch.testing.assert_close(r[y[:, 0] > 0], torch.full_like(r[y[:, 0] > 0], 0.5))  # float32 rounding
    torch.testing.assert_close(r[y[:, 0] < 0], torch.ones_like(r[y[:, 0] < 0]))
    x, y = next(classification_2d(500, kind="xor", noise=0.0, seed=3))
    assert torch.all(torch.sign(x[:, 0] * x[:, 1]) == y[:, 0])
    x, y = next(classification_2d(500, kind="moons", noise=0.0, seed=3))
    upper, lower = x[y[:, 0] < 0], x[y[:, 0] > 0]
    torch.testing.assert_close(upper.norm(dim=-1), torch.ones(len(upper)))
    torch.testing.assert_close((lower - torch.tensor([1.0, 0.5])).norm(dim=-1), torch.ones(len(lower)))
    x, y = next(classification_2d(4, T=6, seed=3, dtype=torch.float64))
    assert x.shape == (4, 6, 2) and y.shape == (4, 6, 1) and x.dtype == torch.float64
    assert torch.all(x == x[:, :1])


def test_sign_accuracy_counts_defined_targets_only():
    out = torch.tensor([[0.5, -0.2, 0.3]])
    tgt = torch.tensor([[1.0, 1.0, 0.0]])
    assert sign_accuracy(out, tgt) == 0.5
    with pytest.raises(ValueError, match="outputs has shape"):
        sign_accuracy(out, tgt[:, :2])


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"flipflop\.p_flip must be a number in \(0, 1\]; got 0"):
        next(flipflop(4, 10, p_flip=0))
    with pytest.raises(ValueError, match=r"flipflop\.T must be an integer in \[1, inf\); got 0"):
        next(flipflop(4, 0))
    with pytest.raises(ValueError, match=r"delayed_match\.n_stimuli must be an integer in \[2, inf\)"):
        next(delayed_match(4, n_stimuli=1))
    with pytest.raises(ValueError, match=r"classification_2d\.kind must be one of"):
        next(classification_2d(4, kind="spirals"))
    with pytest.raises(TypeError, match="seed must be"):
        next(flipflop(4, 10, seed="a"))
