"""calo-flow: the spline, exact inversion, the likelihood, zeros and layer energies, one step, the run folder."""
import math

import pytest
import torch

import latentlab
from latentlab.calo import simulate
from latentlab.calo.data import encode_cells, to_dataset
from latentlab.calo.flow import CaloFlow, CaloFlowConfig, ConditionalFlow, rq_spline
from latentlab.config import train_defaults
from latentlab.errors import ConfigError
from latentlab.models import SHOWER_MODELS

SMALL = dict(couplings=2, hidden=16, layers=1, bins=4, layer_couplings=2, layer_hidden=8)


def small(**kw):
    torch.manual_seed(0)
    return CaloFlow(CaloFlowConfig(**{**SMALL, **kw}), (1, 1, 504))


def showers_v(n=8, seed=0):
    """(n, 1, 1, 504) v and (n, 1) GeV of simulated showers."""
    s = simulate("eplus", n, seed=seed)
    v = encode_cells(torch.from_numpy(s.voxels()), CaloFlowConfig().log_scale).reshape(n, 1, 1, 504)
    return v, torch.from_numpy(s.energy).float().reshape(-1, 1)


def test_spline_inverts_and_its_log_determinant_is_the_derivative():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, generator=g, dtype=torch.float64) * 3  # some outside [-4, 4]: identity there
    w, h, d = (torch.randn(4, k, 6, generator=g, dtype=torch.float64) for k in (5, 5, 4))
    y, logdet = rq_spline(x, w, h, d, 4.0)
    back, logdet_inv = rq_spline(y, w, h, d, 4.0, inverse=True)
    assert torch.allclose(back, x, atol=1e-9) and torch.allclose(logdet_inv, -logdet, atol=1e-9)
    eps = 1e-6
    numeric = torch.log((rq_spline(x + eps, w, h, d, 4.0)[0] - rq_spline(x - eps, w, h, d, 4.0)[0]) / (2 * eps))
    assert torch.allclose(numeric, logdet, atol=1e-5)
    assert torch.equal(y[x.abs() >= 4], x[x.abs() >= 4])


def test_a_tiny_flow_inverts_exactly_and_its_density_integrates_the_jacobian():
    torch.manual_seed(0)
    flow = ConditionalFlow(3, 2, couplings=4, hidden=8, layers=1, bins=4, bound=3.0).double()
    for p in flow.parameters():
        torch.nn.init.normal_(p, std=0.5)  # far from the identity it starts at
    x, c = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    z, logdet = flow(x, c)
    assert torch.allclose(flow.inverse(z, c), x, atol=1e-8)  # x -> z -> x
    jac = torch.stack([torch.autograd.functional.jacobian(lambda r: flow(r[None], c[i:i + 1])[0][0], x[i])
                       for i in range(5)])  # (5, 3, 3)
    assert torch.allclose(torch.linalg.slogdet(jac).logabsdet, logdet, atol=1e-8)
    one = ConditionalFlow(1, 1, couplings=2, hidden=4, layers=1, bins=3, bound=2.0)  # one variable: context only
    u = torch.randn(4, 1)
    assert torch.allclose(one.inverse(one(u, u)[0], u), u, atol=1e-5)


def test_shapes_defaults_and_registry():
    model = small()
    assert SHOWER_MODELS["calo-flow"] is CaloFlow and model.schedule() == ["model"]
    assert model.layer_cells == (288, 144, 72) and model.cfg.calibrate is False
    d = train_defaults(CaloFlow)
    assert (d["lr"], d["batch_size"]) == (CaloFlow.train_defaults["lr"], CaloFlow.train_defaults["batch_size"])
    e = torch.tensor([2.0, 20.0, 90.0])
    cells = model.generate(e, generator=torch.Generator().manual_seed(5))
    assert cells.shape == (3, 504) and (cells >= 0).all()
    assert torch.equal(cells, model.generate(e, generator=torch.Generator().manual_seed(5)))
    with pytest.raises(ConfigError):
        CaloFlowConfig(bins=1).validate()
    with pytest.raises(ConfigError):
        small().loss(torch.zeros(2, 1, 1, 504), None, "model")


def test_layer_variables_invert_and_the_representation_keeps_zeros_below_the_threshold():
    model = small(threshold_mev=0.6)
    layer = torch.tensor([[100.0, 300.0, 0.3], [5.0, 50.0, 20.0]])
    e = torch.tensor([2.0, 3.0])
    assert torch.allclose(model.layer_energies(model.layer_variables(layer, e), e), layer, rtol=1e-4)
    v, y = showers_v(4)
    _, u, context = model.represent(v.flatten(1), y.reshape(-1))
    hits = model.to_mev(v.flatten(1)) > 0
    assert (u[hits] >= 0).all() and (u[~hits] < 0).all() and (u[~hits] >= -model.cfg.dequant_width).all()
    assert context.shape == (4, 4)


def test_log_likelihood_is_finite_and_one_step_lowers_the_loss():
    model = small()
    model.train()
    v, y = showers_v(16)
    torch.manual_seed(0)
    terms = model.loss(v, y, "model")
    assert set(terms) == {"loss", "nll_layers", "nll_voxels"} and math.isfinite(terms["loss"].item())
    assert 0.5 < float(model.floor_mev) < 1.0  # fitted: the smallest deposit of these showers (0.6 MeV)
    torch.manual_seed(0)  # the same dequantisation draw: log p is minus the loss, shower by shower
    logp = model.log_prob(v, y)
    assert logp.shape == (16,) and torch.isfinite(logp).all()
    assert torch.allclose(-logp.mean(), terms["loss"])
    other = model.log_prob(v, y, torch.Generator().manual_seed(1))  # another draw
    assert torch.isfinite(other).all() and not torch.equal(other, logp)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        torch.manual_seed(0)
        loss = model.loss(v, y, "model")["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.manual_seed(0)
    assert model.loss(v, y, "model")["loss"] < terms["loss"]


def test_generated_showers_have_exact_zeros_and_the_layer_energies_of_flow_one():
    model = small(threshold_mev=0.6)
    e = torch.tensor([10.0, 50.0, 90.0, 30.0])
    g = torch.Generator().manual_seed(0)
    cells = model.generate_mev(e, g)
    assert (cells == 0).any() and (cells[cells > 0] >= 0.6).all()
    g = torch.Generator().manual_seed(0)  # the same draws: flow I's layer energies
    c = model.condition(e)
    layer = model.layer_energies(model.layer_flow.inverse(torch.randn(4, 3, generator=g), c), e)
    sums = model.layer_sums(cells)
    full = sums > 0
    assert torch.allclose(sums[full], layer[full], rtol=1e-2)  # renormalised (a few sub-threshold cells dropped)


def test_run_folder_round_trip_and_another_geometry(tmp_path):
    showers = simulate("eplus", 120, seed=4)
    data, stats, _ = to_dataset(showers, "tiny.h5", 0.1, 0.1, seed=0)
    run = latentlab.train("calo-flow", data=data, epochs=1, batch_size=32, progress=False, out=str(tmp_path / "run"),
                          **SMALL, **stats)
    model = latentlab.load(run.dir)
    assert isinstance(model, CaloFlow) and float(model.floor_mev) == pytest.approx(float(run.model.floor_mev))
    assert bool(model.voxel_flow.norm.initialised)
    e = torch.tensor([5.0, 50.0])
    a = model.generate(e, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(a, run.model.generate(e, generator=torch.Generator().manual_seed(2)))
    # CaloChallenge dataset 2: 45 layers x 144 voxels; the layer split comes from the geometry spec
    torch.manual_seed(0)
    ds2 = CaloFlow(CaloFlowConfig(**SMALL, n_cells=6480, geometry="calochallenge-ds2"), (1, 1, 6480))
    assert len(ds2.layer_cells) == 45
    v = torch.rand(3, 1, 1, 6480) * (torch.rand(3, 1, 1, 6480) < 0.2) * 0.5
    assert torch.isfinite(ds2.loss(v, torch.tensor([[2.0], [20.0], [90.0]]), "model")["loss"])
    assert ds2.generate(torch.tensor([10.0, 60.0])).shape == (2, 6480)
    with pytest.raises(ConfigError):
        CaloFlow(CaloFlowConfig(**SMALL, n_cells=500, geometry="calogan"), (1, 1, 500))
