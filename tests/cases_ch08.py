"""Chapter 8's checkers: for each exercise name, a reference answer and plausible wrong
answers (at least two) that the checker must reject with a hint."""

import torch

from fmkit.paths import as_time

# ----------------------------------------------------------------- label dropout


def drop_labels(labels, p, generator):
    """The reference: each label becomes -1 with probability p."""
    dropped = torch.rand(labels.shape, generator=generator) < p
    return torch.where(dropped, torch.full_like(labels, -1), labels)


def drop_with_one_minus_p(labels, p, generator):
    dropped = torch.rand(labels.shape, generator=generator) < 1 - p
    return torch.where(dropped, torch.full_like(labels, -1), labels)


def drop_in_place(labels, p, generator):
    labels[torch.rand(labels.shape, generator=generator) < p] = -1
    return labels


def drop_to_zero(labels, p, generator):
    dropped = torch.rand(labels.shape, generator=generator) < p
    return torch.where(dropped, torch.zeros_like(labels), labels)


def drop_with_global_rng(labels, p, generator):
    dropped = torch.rand(labels.shape) < p
    return torch.where(dropped, torch.full_like(labels, -1), labels)


def drop_mask(labels, p, generator):
    return torch.rand(labels.shape, generator=generator) < p


# ----------------------------------------------------------------- scheduled guidance


def scheduled_guidance(model, label, schedule):
    def velocity(x, t):
        v_none, v_label = model(x, t, label=-1), model(x, t, label=label)
        return v_none + schedule(t) * (v_label - v_none)

    return velocity


def scheduled_reversed(model, label, schedule):
    def velocity(x, t):
        v_none = model(x, t, label=-1)
        return v_none + schedule(1 - t) * (model(x, t, label=label) - v_none)

    return velocity


def scheduled_at_start(model, label, schedule):
    scale = schedule(0.0)  # evaluated once, outside the field

    def velocity(x, t):
        v_none = model(x, t, label=-1)
        return v_none + scale * (model(x, t, label=label) - v_none)

    return velocity


def scheduled_swapped(model, label, schedule):
    def velocity(x, t):
        v_label = model(x, t, label=label)
        return v_label + schedule(t) * (model(x, t, label=-1) - v_label)

    return velocity


# ----------------------------------------------------------------- class posterior


def class_posterior(x, t, means, std):
    t = as_time(t, x)  # (batch, 1)
    var = (1 - t) ** 2 + t**2 * std**2  # (batch, 1)
    sq = ((x[:, None, :] - t[:, :, None] * means[None]) ** 2).sum(-1)  # (batch, k)
    return torch.softmax(-sq / (2 * var), dim=1)


def posterior_fixed_centres(x, t, means, std):
    t = as_time(t, x)
    var = (1 - t) ** 2 + t**2 * std**2
    sq = ((x[:, None, :] - means[None]) ** 2).sum(-1)
    return torch.softmax(-sq / (2 * var), dim=1)


def posterior_data_std(x, t, means, std):
    t = as_time(t, x)
    sq = ((x[:, None, :] - t[:, :, None] * means[None]) ** 2).sum(-1)
    return torch.softmax(-sq / (2 * std**2), dim=1)


def posterior_over_batch(x, t, means, std):
    t = as_time(t, x)
    var = (1 - t) ** 2 + t**2 * std**2
    sq = ((x[:, None, :] - t[:, :, None] * means[None]) ** 2).sum(-1)
    return torch.softmax(-sq / (2 * var), dim=0)


def log_posterior(x, t, means, std):
    return class_posterior(x, t, means, std).log()


# ----------------------------------------------------------------- the derivation


CASES = {
    "drop_labels": (
        drop_labels,
        [drop_with_one_minus_p, drop_in_place, drop_to_zero, drop_with_global_rng, drop_mask],
    ),
    "scheduled_guidance": (
        scheduled_guidance,
        [scheduled_reversed, scheduled_at_start, scheduled_swapped],
    ),
    "class_posterior": (
        class_posterior,
        [posterior_fixed_centres, posterior_data_std, posterior_over_batch, log_posterior],
    ),
    "guided_at_t0": (
        lambda: (8.0, -2.0),
        [
            lambda: (2.0, -2.0),  # the conditional field alone
            lambda: (11.0, -2.0),  # Ho and Salimans' 1 + w with w = 3
            lambda: (-7.0, -2.0),  # roles swapped
            lambda: (9.0, 0.0),  # fields taken as E[x_1], without -x
            lambda: (6.0, -6.0),
        ],
    ),  # unconditional field taken as 0
}
