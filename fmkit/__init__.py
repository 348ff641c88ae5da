"""fmkit: the small library behind "Flow Matching, hands-on".

One idea per module: ``data`` (targets and bases), ``paths`` (couplings and the straight
path), ``models`` (the velocity network), ``train`` (the regression loop), ``solvers``
(ODE integration), ``exact`` (true marginal fields), ``metrics`` (sample quality).
Importing fmkit sets no style, seeds nothing and downloads nothing.
"""

from . import data, exact, metrics, models, paths, solvers, train
from .data import make_loader, names, ring_of_gaussians, sample
from .models import VelocityField
from .paths import interpolate, ot_pairing, target_velocity
from .solvers import Solution, euler_step, generate, integrate, midpoint_step, rk4_step
from .train import History, flow_matching_loss, train_flow
from .utils import default_device, seed_everything

__all__ = [
    "data",
    "exact",
    "metrics",
    "models",
    "paths",
    "solvers",
    "train",
    "make_loader",
    "names",
    "ring_of_gaussians",
    "sample",
    "VelocityField",
    "interpolate",
    "ot_pairing",
    "target_velocity",
    "Solution",
    "euler_step",
    "generate",
    "integrate",
    "midpoint_step",
    "rk4_step",
    "History",
    "flow_matching_loss",
    "train_flow",
    "default_device",
    "seed_everything",
]
__version__ = "0.1.0"
