"""fmkit: the small library behind "Flow Matching, hands-on".

One idea per module: ``data`` (targets and bases), ``paths`` (couplings and the straight
path), ``models`` (the velocity networks), ``train`` (the regression loop), ``solvers``
(ODE integration), ``exact`` (true marginal fields and densities), ``metrics`` (sample
quality, straightness), ``reflow`` (rectified flow), ``onestep`` (sampling with a learned
flow map), ``likelihood`` (log-densities by the change of variables), ``guidance``
(classifier-free guidance), ``latent`` (PCA codes and an autoencoder), ``recipes`` (the
chapters' named training configurations); ``plot`` and ``widgets`` (figures and explorers)
are imported on their own.
Importing fmkit sets no style, seeds nothing and downloads nothing.
"""

from . import (
    data,
    exact,
    guidance,
    latent,
    likelihood,
    metrics,
    models,
    onestep,
    paths,
    recipes,
    reflow,
    solvers,
    train,
)
from .data import make_loader, names, ring_of_gaussians, sample
from .guidance import guided_velocity
from .likelihood import log_likelihood
from .models import ConditionalVelocityField, VelocityField
from .paths import as_velocity, interpolate, ot_pairing, target_velocity
from .reflow import reflow_pairs
from .solvers import (
    Solution,
    euler_step,
    generate,
    integrate,
    midpoint_step,
    rk4_step,
    sample_sde,
)
from .train import History, fit, flow_matching_loss, train_flow, train_on_pairs
from .utils import Velocity, default_device, seed_everything

__all__ = [
    "data",
    "exact",
    "guidance",
    "latent",
    "likelihood",
    "metrics",
    "models",
    "onestep",
    "paths",
    "recipes",
    "reflow",
    "solvers",
    "train",
    "make_loader",
    "names",
    "ring_of_gaussians",
    "sample",
    "ConditionalVelocityField",
    "VelocityField",
    "guided_velocity",
    "log_likelihood",
    "reflow_pairs",
    "interpolate",
    "ot_pairing",
    "target_velocity",
    "as_velocity",
    "Solution",
    "euler_step",
    "generate",
    "integrate",
    "midpoint_step",
    "rk4_step",
    "sample_sde",
    "History",
    "fit",
    "flow_matching_loss",
    "train_flow",
    "train_on_pairs",
    "default_device",
    "seed_everything",
    "Velocity",
]
__version__ = "0.1.0"
