"""calo-flow: a two-stage conditional normalizing flow for calorimeter showers, in the style of
CaloFlow (Krause & Shih, arXiv:2106.05285 and 2110.11377): flow I learns the layer energies
given the incident energy, flow II the voxels given the incident and the layer energies.

representation (E_thr: the smallest deposit a cell can hold, ``threshold_mev`` or fitted as the
smallest deposit seen in training; E_l: layer l's energy, E_inc the incident energy, MeV)
    dequantise  an empty cell (or layer) gets a deposit E = E_thr exp(-w U), U ~ U(0, 1), w =
                ``dequant_width``: zero-suppressed deposits are "somewhere below the threshold",
                so the zeros become a box just below the smallest real deposit, with no gap
    flow I      y_0 = log(sum_l E_l / E_inc),  y_l = logit(E_l / sum_{m >= l} E_m), l < L - 1:
                CaloFlow's response and stick-breaking fractions (L variables; the total and the
                shares are nearly independent, where log E_l would lie on a curved ridge)
    flow II     u_k = log(E_k / E_thr) per voxel (>= 0 for a hit, in [-w, 0) for an empty cell),
                conditioned on c (log E_inc in [-1, 1]) and log(E_l / E_thr) / 4 for each layer
loss        -log p(y | c) - log p(u | c, y), summed: both flows train jointly (one optimiser group)
log p       ``log_prob(v, energy)``: the exact log density, nats per shower, of the dequantised
            (y, u) above (L + n_cells continuous variables) for one dequantisation draw; its mean
            is a lower bound on the log-likelihood of the zero-suppressed showers (Theis et al.
            2016, dequantisation), up to the fixed Jacobian of y and u
generate    y ~ flow I, u ~ flow II; a voxel with u < 0 is empty (exactly 0 MeV), the others
            E_thr exp(u); each layer is rescaled to flow I's E_l (CaloFlow's renormalisation);
            a layer whose E_l is below E_thr is empty. The fitted-response calibration of
            ``calo.modelbase`` is off by default and ``energy_weight`` unused: flow I learns the totals.

Both flows are stacks of coupling layers (RealNVP, Dinh et al. 2017) whose transforms are
rational-quadratic splines with linear tails (Durkan et al. 2019, "Neural Spline Flows",
arXiv:1906.04019, eqs. 4-8): each coupling transforms one half of the variables (a random
split, fixed at construction; the next coupling transforms the other half) with spline knots
given by an MLP of the other half and the condition. CaloFlow's flow II is a masked
autoregressive flow; its sampler needs one pass per voxel (504 for CaloGAN, 6480 for
CaloChallenge dataset 2), which CaloFlow v2 distils into an inverse autoregressive student.
Coupling layers need one pass either way, so training on the likelihood and sampling are both
fast on the CPU, for any geometry (the voxels per layer come from ``cfg.geometry``). Each
flow starts with a normalisation initialised from the first training batch (ActNorm, Kingma &
Dhariwal 2018, Glow), and each coupling's last layer starts at zero, so training starts near
the identity map. The training defaults (``train_defaults``: 24 epochs, cosine learning rate)
suit about 20 CPU minutes on 24,000 CaloGAN showers; sampling costs about 1 ms per shower.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.calo.data import encode_cells
from latentlab.calo.modelbase import CaloConfig, CaloModel, randn
from latentlab.config import setting
from latentlab.errors import ConfigError
from latentlab.nn.nets import mlp

LOG_2PI = math.log(2 * math.pi)
MIN_BIN = 1e-3  # smallest spline bin width and height, as a fraction of the interval
MIN_DERIVATIVE = 1e-3  # smallest slope at an inner knot
IDENTITY_SHIFT = math.log(math.e - 1)  # softplus(0 + this) = 1: a zero network output gives slopes of 1


@dataclass
class CaloFlowConfig(CaloConfig):
    couplings: int = setting(8, "coupling layers of flow II (the voxels)")
    hidden: int = setting(256, "units per hidden layer of flow II's coupling networks")
    layers: int = setting(2, "hidden layers of every coupling network")
    bins: int = setting(8, "bins of every rational-quadratic spline")
    tail_bound: float = setting(6.0, "the splines act on [-B, B] (normalised units); identity outside")
    layer_couplings: int = setting(6, "coupling layers of flow I (the layer energies)")
    layer_hidden: int = setting(64, "units per hidden layer of flow I's coupling networks")
    dequant_width: float = setting(1.0, "w: an empty cell's log(E / E_thr) is drawn from U(-w, 0)")
    threshold_mev: float = setting(0.0, "E_thr, the smallest deposit of a cell, MeV (0: the smallest seen in training)")
    renormalize: bool = setting(True, "generate: rescale each layer's voxels to the layer energy of flow I")
    calibrate: bool = setting(False, "generate: rescale each shower's total to a draw from the fitted response "
                                     "(off: flow I learns the layer energies and their sum)")

    def validate(self) -> None:
        self.validate_calo()
        if min(self.couplings, self.hidden, self.layers, self.layer_couplings, self.layer_hidden) < 1:
            raise ConfigError("couplings, hidden, layers, layer_couplings and layer_hidden must all be at least 1")
        if self.bins < 2 or self.tail_bound <= 0:
            raise ConfigError(f"bins must be >= 2 and tail_bound > 0, got {self.bins} and {self.tail_bound}")
        if self.dequant_width <= 0 or self.threshold_mev < 0:
            raise ConfigError(f"dequant_width must be > 0 and threshold_mev >= 0 (0: fitted), got "
                              f"{self.dequant_width} and {self.threshold_mev}")


# --- the spline ------------------------------------------------------------------------------
def rq_spline(x: torch.Tensor, widths: torch.Tensor, heights: torch.Tensor, slopes: torch.Tensor, bound: float,
              inverse: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Monotone rational-quadratic spline on [-bound, bound], identity outside (Durkan et al. 2019).

    x (B, n); widths, heights (B, K, n) and slopes (B, K - 1, n) unnormalised (network outputs;
    bins first, so every step runs along the n variables). Returns (y, log |dy/dx|) of the forward
    map, or (x, log |dx/dy|) of its inverse, each (B, n)."""
    k = widths.shape[1]
    inside = (x > -bound) & (x < bound)
    xc = x.clamp(-bound, bound)
    zero = x.new_zeros(len(x), 1, x.shape[1])
    scale = 2 * bound * (1 - MIN_BIN * k)  # each bin: MIN_BIN of the interval plus its share of the rest

    def knots_of(sizes: torch.Tensor) -> torch.Tensor:  # (B, K, n) -> (B, K + 1, n) from -bound to bound
        return torch.cat([zero, torch.cumsum(torch.softmax(sizes, dim=1) * scale + MIN_BIN * 2 * bound, dim=1)], 1) - bound

    knots_x, knots_y = knots_of(widths), knots_of(heights)
    one = zero + 1
    d = torch.cat([one, MIN_DERIVATIVE + F.softplus(slopes + IDENTITY_SHIFT), one], dim=1)  # (B, K + 1, n)
    knots = knots_y if inverse else knots_x
    idx = (xc.unsqueeze(1) >= knots[:, 1:-1]).sum(1, keepdim=True)  # (B, 1, n) bin index in 0..K-1
    both = torch.cat([idx, idx + 1], dim=1)  # (B, 2, n) the bin's two knots
    xs, ys, ds = knots_x.gather(1, both), knots_y.gather(1, both), d.gather(1, both)
    x0, y0, d0, d1 = xs[:, 0], ys[:, 0], ds[:, 0], ds[:, 1]
    bw, bh = xs[:, 1] - x0, ys[:, 1] - y0
    s = bh / bw  # the bin's mean slope
    if inverse:  # solve eq. 6 for xi: a xi^2 + b xi + c = 0 (Durkan et al., appendix A.3)
        dy = xc - y0
        a = bh * (s - d0) + dy * (d1 + d0 - 2 * s)
        b = bh * d0 - dy * (d1 + d0 - 2 * s)
        c = -s * dy
        xi = (2 * c / (-b - torch.sqrt((b * b - 4 * a * c).clamp(min=0)))).clamp(0, 1)
    else:
        xi = (xc - x0) / bw
    t = xi * (1 - xi)
    den = s + (d1 + d0 - 2 * s) * t
    logdet = 2 * torch.log(s) + torch.log(d1 * xi * xi + 2 * s * t + d0 * (1 - xi) ** 2) - 2 * torch.log(den)
    if inverse:
        out = x0 + xi * bw
        logdet = -logdet
    else:
        out = y0 + bh * (s * xi * xi + d0 * t) / den
    return torch.where(inside, out, x), torch.where(inside, logdet, 0.0)


# --- the flows --------------------------------------------------------------------------------
class ActNorm(nn.Module):
    """z = (x - loc) exp(-log_scale) per variable, loc and scale set from the first training batch."""

    def __init__(self, dim: int):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialised", torch.tensor(False))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.initialised) and len(x) > 1:
            with torch.no_grad():
                self.loc.copy_(x.mean(0))
                self.log_scale.copy_(torch.log(x.std(0) + 1e-3))
                self.initialised.fill_(True)
        return (x - self.loc) * torch.exp(-self.log_scale), -self.log_scale.sum().expand(len(x))

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.exp(self.log_scale) + self.loc


class SplineCoupling(nn.Module):
    """Transforms the variables ``idx_b`` with splines whose knots are an MLP of ``idx_a`` and the context."""

    def __init__(self, idx_a: torch.Tensor, idx_b: torch.Tensor, context: int, hidden: int, layers: int,
                 bins: int, bound: float):
        super().__init__()
        self.register_buffer("idx_a", idx_a)
        self.register_buffer("idx_b", idx_b)
        self.register_buffer("order", torch.argsort(torch.cat([idx_a, idx_b])))  # [a, b] -> original order
        self.bins, self.bound = bins, bound
        self.net = mlp([len(idx_a) + context, *[hidden] * layers, len(idx_b) * (3 * bins - 1)], nn.ReLU)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)  # starts as the identity map

    def transform(self, x: torch.Tensor, context: torch.Tensor, inverse: bool) -> tuple[torch.Tensor, torch.Tensor]:
        xa, xb = x[:, self.idx_a], x[:, self.idx_b]  # (B, n_a), (B, n_b)
        p = self.net(torch.cat([xa, context], dim=1)).view(len(x), 3 * self.bins - 1, len(self.idx_b))
        k = self.bins
        yb, logdet = rq_spline(xb, p[:, :k], p[:, k:2 * k], p[:, 2 * k:], self.bound, inverse)  # (B, n_b) each
        return torch.cat([xa, yb], dim=1)[:, self.order], logdet.sum(1)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(x, context, inverse=False)

    def inverse(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return self.transform(z, context, inverse=True)[0]


class ConditionalFlow(nn.Module):
    """ActNorm then ``couplings`` spline couplings: x (B, dim) <-> z ~ N(0, I), given a (B, context) condition.

    Coupling 2i transforms a random half of the variables (a fixed draw from ``seed``), coupling
    2i + 1 the other half; with one variable every coupling transforms it given the context only."""

    def __init__(self, dim: int, context: int, couplings: int, hidden: int, layers: int, bins: int, bound: float,
                 seed: int = 0):
        super().__init__()
        self.dim = dim
        self.norm = ActNorm(dim)
        g = torch.Generator().manual_seed(seed)
        blocks = []
        for i in range(couplings):
            if i % 2 == 0:
                perm = torch.randperm(dim, generator=g)
                idx_a, idx_b = perm[:dim // 2], perm[dim // 2:]
            elif dim > 1:
                idx_a, idx_b = idx_b, idx_a
            blocks.append(SplineCoupling(idx_a.sort().values, idx_b.sort().values, context, hidden, layers, bins,
                                         bound))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x -> (z, log |det dz/dx|), each shower's log-determinant (B,)."""
        z, logdet = self.norm(x)
        for block in self.blocks:
            z, ld = block(z, context)
            logdet = logdet + ld
        return z, logdet

    def inverse(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        for block in reversed(self.blocks):
            z = block.inverse(z, context)
        return self.norm.inverse(z)

    def log_prob(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """log p(x | context), nats, (B,): the standard normal log density of z plus the log-determinant."""
        z, logdet = self(x, context)
        return -0.5 * (z * z).sum(1) - 0.5 * self.dim * LOG_2PI + logdet


# --- the shower model -------------------------------------------------------------------------
class CaloFlow(CaloModel):
    """Two-stage conditional spline flow for showers: layer energies (flow I), then voxels (flow II)."""

    name = "calo-flow"
    Config = CaloFlowConfig
    train_defaults = {"lr": 1e-3, "batch_size": 256, "epochs": 24, "lr_schedule": "cosine"}

    def __init__(self, cfg: CaloFlowConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.layer_cells = self.geometry.voxels_per_layer
        if sum(self.layer_cells) != cfg.n_cells:
            raise ConfigError(f"geometry {cfg.geometry!r} has {sum(self.layer_cells)} voxels, the showers "
                              f"{cfg.n_cells}: let `latentlab calo train` fit the geometry from the data")
        n_layers = len(self.layer_cells)
        self.layer_flow = ConditionalFlow(n_layers, 1, cfg.layer_couplings, cfg.layer_hidden, cfg.layers, cfg.bins,
                                          cfg.tail_bound, seed=1)  # flow I: (B, L) given c
        self.voxel_flow = ConditionalFlow(cfg.n_cells, 1 + n_layers, cfg.couplings, cfg.hidden, cfg.layers,
                                          cfg.bins, cfg.tail_bound, seed=2)  # flow II: (B, cells) given [c, E_l]
        # E_thr in MeV; fitted (the running minimum of the training deposits) when threshold_mev is 0
        self.register_buffer("floor_mev", torch.tensor(cfg.threshold_mev if cfg.threshold_mev > 0 else math.inf))

    # --- the representation ---------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        t = float(self.floor_mev)
        return t if math.isfinite(t) else 1.0  # an untrained model without a threshold: 1 MeV

    def fit_threshold(self, cells: torch.Tensor) -> None:
        if self.cfg.threshold_mev > 0 or not self.training:
            return
        hits = cells[cells > 0]
        if hits.numel():
            self.floor_mev.copy_(torch.minimum(self.floor_mev, hits.min().detach()))

    def dequantise(self, e: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Deposits below E_thr (empty) -> E_thr exp(-w U), U ~ U(0, 1); log(E / E_thr) of every entry."""
        u = torch.log(e.clamp(min=1e-30) / self.threshold)
        if generator is None:
            noise = torch.rand(e.shape, device=e.device)
        else:
            noise = torch.rand(e.shape, generator=generator, device=generator.device).to(e.device)
        return torch.where(e >= self.threshold, u, -self.cfg.dequant_width * noise)

    def layer_sums(self, cells: torch.Tensor) -> torch.Tensor:
        return torch.stack([part.sum(1) for part in cells.split(self.layer_cells, dim=1)], dim=1)  # (B, L) MeV

    def layer_variables(self, layer_mev: torch.Tensor, energy_gev: torch.Tensor) -> torch.Tensor:
        """(B, L) layer energies, MeV (dequantised, > 0) -> flow I's y: log response, stick-breaking logits."""
        total = layer_mev.sum(1, keepdim=True)  # (B, 1)
        rest = total - torch.cumsum(layer_mev, dim=1) + layer_mev  # sum_{m >= l} E_m, (B, L)
        share = (layer_mev[:, :-1] / rest[:, :-1]).clamp(1e-7, 1 - 1e-7)
        return torch.cat([torch.log(total / (1000 * energy_gev.reshape(-1, 1))), torch.logit(share)], dim=1)

    def layer_energies(self, y: torch.Tensor, energy_gev: torch.Tensor) -> torch.Tensor:
        """The inverse of ``layer_variables``: (B, L) y -> layer energies, MeV."""
        rest = torch.exp(y[:, 0]) * 1000 * energy_gev.reshape(-1)  # (B,) the total
        out = []
        for l in range(y.shape[1] - 1):
            part = torch.sigmoid(y[:, l + 1]) * rest
            out.append(part)
            rest = rest - part
        return torch.stack([*out, rest], dim=1)

    def voxel_context(self, c: torch.Tensor, layer_mev: torch.Tensor) -> torch.Tensor:
        return torch.cat([c, torch.log(layer_mev.clamp(min=1e-30) / self.threshold) / 4], dim=1)  # (B, 1 + L)

    def represent(self, v: torch.Tensor, energy_gev: torch.Tensor, generator: torch.Generator | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """v (B, cells) -> (y (B, L) for flow I, u (B, cells) for flow II, flow II's context), dequantised."""
        cells = self.to_mev(v.flatten(1))  # (B, cells) MeV
        layer_mev = self.layer_sums(cells)
        deq = torch.exp(self.dequantise(layer_mev, generator)) * self.threshold  # (B, L) > 0
        layer_mev = torch.where(layer_mev >= self.threshold, layer_mev, deq)
        u = self.dequantise(cells, generator)
        return (self.layer_variables(layer_mev, energy_gev), u,
                self.voxel_context(self.condition(energy_gev), layer_mev))

    # --- likelihood -----------------------------------------------------------------------------
    def log_prob_parts(self, v: torch.Tensor, energy_gev: torch.Tensor,
                       generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """log p(y | E_inc) of flow I and log p(u | E_inc, E_l) of flow II, nats per shower, (B,) each."""
        y, u, context = self.represent(v, energy_gev, generator)
        return {"layers": self.layer_flow.log_prob(y, self.condition(energy_gev)),
                "voxels": self.voxel_flow.log_prob(u, context)}

    def log_prob(self, v: torch.Tensor, energy_gev: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact log density, nats per shower (B,), of the dequantised representation (y, u) (module doc)."""
        parts = self.log_prob_parts(v, energy_gev, generator)
        return parts["layers"] + parts["voxels"]

    def loss(self, x: torch.Tensor, y: torch.Tensor | None, group: str) -> dict[str, torch.Tensor]:
        if y is None:
            raise ConfigError("calo-flow needs the incident energies as labels: train it with `latentlab calo train`")
        v = x.flatten(1).float()  # (B, cells)
        self.fit_threshold(self.to_mev(v))
        parts = self.log_prob_parts(v, y)
        nll_layers, nll_voxels = -parts["layers"].mean(), -parts["voxels"].mean()
        return {"loss": nll_layers + nll_voxels, "nll_layers": nll_layers.detach(), "nll_voxels": nll_voxels.detach()}

    # --- generation -----------------------------------------------------------------------------
    def generate_mev(self, energy_gev: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B,) energies -> (B, cells) MeV, one shower each (module doc: thresholds and renormalisation)."""
        e = energy_gev.reshape(-1).float().to(self.device)
        c = self.condition(e)  # (B, 1)
        n_layers = len(self.layer_cells)
        y = self.layer_flow.inverse(randn((len(e), n_layers), generator, c.device), c)
        layer_mev = self.layer_energies(y, e).clamp(min=1e-30)  # (B, L)
        u = self.voxel_flow.inverse(randn((len(e), self.cfg.n_cells), generator, c.device),
                                    self.voxel_context(c, layer_mev))
        thr = self.threshold
        cells = torch.where(u >= 0, thr * torch.exp(u.clamp(max=30)), torch.zeros_like(u))  # (B, cells) MeV
        if self.cfg.renormalize:
            sums = self.layer_sums(cells)  # (B, L)
            target = torch.where(layer_mev >= thr, layer_mev, torch.zeros_like(layer_mev))
            scale = torch.where(sums > 0, target / sums.clamp(min=1e-30), torch.zeros_like(sums))
            cells = cells * torch.repeat_interleave(scale, torch.tensor(self.layer_cells, device=cells.device), dim=1)
            cells = torch.where(cells >= thr, cells, torch.zeros_like(cells))
        return cells

    def generate_v(self, energy_gev: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return encode_cells(self.generate_mev(energy_gev, generator), self.cfg.log_scale)  # (B, cells)
