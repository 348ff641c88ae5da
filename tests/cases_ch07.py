"""Chapter 7's checkers: for each exercise name, fmkit's reference answer and plausible
wrong answers (at least two) that the checker must reject with a hint."""

import torch

import fmkit as fm
from fmkit import likelihood
from fmkit.checks import ch07

# ------------------------------------------------------------------------ the exact divergence


def divergence(velocity, x, t):
    return likelihood.divergence(velocity, x, t)


def divergence_full_jacobian_sum(velocity, x, t):
    """The classic bug: the gradient of v.sum() is sum_i dv_i/dx_j; adding its coordinates
    sums every entry of the Jacobian."""
    x = x.detach().requires_grad_(True)
    v = velocity(x, t)
    return torch.autograd.grad(v.sum(), x)[0].sum(1)


def divergence_first_two(velocity, x, t):
    """range(2) left over from the 2-D cell."""
    x = x.detach().requires_grad_(True)
    v = velocity(x, t)
    return sum(torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(2))


def divergence_diagonal(velocity, x, t):
    """The diagonal entries, never added up: (batch, dim)."""
    return torch.diagonal(ch07.jacobian(velocity, x, t), dim1=1, dim2=2)


def divergence_at_t0(velocity, x, t):
    return likelihood.divergence(velocity, x, 0.0)


# --------------------------------------------------------------------- Hutchinson's estimator


def hutchinson(velocity, x, t, probes):
    return ch07.hutchinson_reference(velocity, x, t, probes)


def _per_probe(velocity, x, t, probes, left=True, right=True):
    """eps^T J eps for each probe, (k, batch); without the probe on one side if asked."""
    x = x.detach().requires_grad_(True)
    v = velocity(x, t)
    rows = []
    for eps in probes:
        left_eps = eps if left else torch.ones_like(eps)
        right_eps = eps if right else torch.ones_like(eps)
        vjp = torch.autograd.grad((v * left_eps).sum(), x, retain_graph=True)[0]  # left_eps^T J
        rows.append((vjp * right_eps).sum(1))
    return torch.stack(rows)


def hutchinson_no_probe_right(velocity, x, t, probes):
    return _per_probe(velocity, x, t, probes, right=False).mean(0)


def hutchinson_no_probe_left(velocity, x, t, probes):
    return _per_probe(velocity, x, t, probes, left=False).mean(0)


def hutchinson_full_jacobian_sum(velocity, x, t, probes):
    return divergence_full_jacobian_sum(velocity, x, t)


def hutchinson_batch_sum(velocity, x, t, probes):
    return _per_probe(velocity, x, t, probes).sum(1).mean()


def hutchinson_probe_sum(velocity, x, t, probes):
    return _per_probe(velocity, x, t, probes).sum(0)


def hutchinson_not_averaged(velocity, x, t, probes):
    return _per_probe(velocity, x, t, probes)


def hutchinson_exact(velocity, x, t, probes):
    return likelihood.divergence(velocity, x, t)


# --------------------------------------------------------------- the backwards likelihood solve


def euler_log_likelihood(velocity, x, n_steps):
    return fm.log_likelihood(velocity, x, n_steps=n_steps, method="euler")


def _euler(
    velocity,
    x,
    n_steps,
    *,
    div_sign=-1.0,
    with_base=True,
    base_at_start=False,
    shift=0,
    reverse_time=False,
):
    """A hand-written Euler solve with one mistake switched on at a time."""
    h, z = 1.0 / n_steps, x.detach().clone()
    total = torch.zeros(len(x))
    for i in range(n_steps):
        t = 1.0 - (i + shift) * h
        t = 1.0 - t if reverse_time else t
        total = total + h * likelihood.divergence(velocity, z, t)
        with torch.no_grad():
            z = z - h * velocity(z, t)
    base = likelihood.standard_normal_log_prob(x if base_at_start else z) if with_base else 0.0
    return base + div_sign * total


def euler_sign(velocity, x, n_steps):
    return _euler(velocity, x, n_steps, div_sign=+1.0)


def euler_no_base(velocity, x, n_steps):
    return _euler(velocity, x, n_steps, with_base=False)


def euler_base_at_x(velocity, x, n_steps):
    return _euler(velocity, x, n_steps, base_at_start=True)


def euler_off_by_one(velocity, x, n_steps):
    return _euler(velocity, x, n_steps, shift=1)


def euler_time_forwards(velocity, x, n_steps):
    return _euler(velocity, x, n_steps, reverse_time=True)


def euler_moves_forwards(velocity, x, n_steps):
    return ch07.euler_variant(velocity, x, n_steps, x_sign=+1.0)


def euler_batch_mean(velocity, x, n_steps):
    return euler_log_likelihood(velocity, x, n_steps).mean()


# ------------------------------------------------------------- a derivation: a linear flow


def linear_flow_log_density():
    a = torch.tensor(ch07.LINEAR_A)
    return -float(a[0, 0] + a[1, 1])  # -trace(A), worked out by hand: -(0.5 - 2) = 1.5


CASES = {
    "divergence": (
        divergence,
        [
            lambda v, x, t: divergence(v, x, t).sum(),  # summed over the batch
            lambda v, x, t: -divergence(v, x, t),  # sign flip
            lambda v, x, t: divergence(v, x, t)[:, None],  # wrong shape
            divergence_full_jacobian_sum,
            divergence_first_two,
            divergence_diagonal,
            divergence_at_t0,
        ],
    ),
    "hutchinson": (
        hutchinson,
        [
            hutchinson_no_probe_right,
            hutchinson_no_probe_left,
            hutchinson_full_jacobian_sum,
            hutchinson_batch_sum,
            hutchinson_probe_sum,
            hutchinson_not_averaged,
            hutchinson_exact,
            lambda v, x, t, p: -hutchinson(v, x, t, p),
        ],
    ),
    "euler_log_likelihood": (
        euler_log_likelihood,
        [
            euler_sign,
            euler_no_base,
            euler_base_at_x,
            euler_off_by_one,
            euler_time_forwards,
            euler_moves_forwards,
            euler_batch_mean,
            lambda v, x, n: fm.log_likelihood(v, x, n_steps=n),
        ],
    ),  # RK4, not Euler
    "linear_flow_log_density": (
        linear_flow_log_density,
        [
            lambda: -1.5,  # sign
            lambda: -2.0,  # determinant instead of trace
            lambda: -0.5,  # every entry of A summed
            lambda: 0.0,
        ],
    ),
}
