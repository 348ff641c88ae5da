import pathlib
import re
import subprocess
import sys

import tomllib

import fmkit

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_star_import_gives_the_everyday_names():
    namespace: dict = {}
    exec("from fmkit import *", namespace)
    for name in [
        "VelocityField",
        "train_flow",
        "integrate",
        "generate",
        "interpolate",
        "seed_everything",
    ]:
        assert name in namespace
    assert set(fmkit.__all__) <= set(dir(fmkit))


def test_import_has_no_side_effects():
    code = (
        "import torch, matplotlib\n"
        "before_rng = torch.random.get_rng_state().clone()\n"
        "before_style = dict(matplotlib.rcParams)\n"
        "import fmkit, fmkit.solvers, fmkit.exact, fmkit.metrics\n"
        "assert torch.equal(before_rng, torch.random.get_rng_state()), 'fmkit touched the torch RNG'\n"
        "assert before_style == dict(matplotlib.rcParams), 'fmkit changed matplotlib style'\n"
        "import sys; assert 'ot' not in sys.modules, 'POT is imported lazily'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_seed_everything_returns_a_seeded_generator():
    import torch

    a = torch.rand(3, generator=fmkit.seed_everything(5))
    b = torch.rand(3, generator=fmkit.seed_everything(5))
    assert torch.equal(a, b)
    assert fmkit.default_device().type in {"cpu", "cuda"}


def _norm(req: str) -> str:
    name = re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0]
    return name.lower().replace("_", "-")


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs |= set(extra)
    return {r.replace(" ", "") for r in reqs}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {r.replace(" ", "") for r in pip_section}
    wanted = _pyproject_requirements()
    assert listed == wanted, (
        f"only in pyproject: {wanted - listed}; only in environment.yml: {listed - wanted}"
    )


def test_torch_has_an_upper_bound_so_no_cuda_build_is_pulled():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch_req = next(r for r in project["dependencies"] if _norm(r) == "torch")
    assert "<" in torch_req


def test_one_velocity_type_for_every_module():
    import fmkit.exact
    import fmkit.likelihood
    import fmkit.plot
    import fmkit.reflow
    import fmkit.solvers
    import fmkit.train

    modules = [fmkit.exact, fmkit.likelihood, fmkit.plot, fmkit.reflow, fmkit.solvers, fmkit.train]
    assert all(module.Velocity is fmkit.Velocity for module in modules)


def test_summaries_print_in_one_line():
    import torch

    history = fmkit.History(loss=[2.0, 3.0], wall_time=[0.5, 1.0])
    assert repr(history) == "History(2 steps, 1.0 s, final loss 2.5)"
    sol = fmkit.integrate(lambda x, t: x, torch.zeros(5, 2), n_steps=3)
    assert repr(sol) == "Solution(x (5, 2), 3 steps, nfe 3, no trajectory)"
