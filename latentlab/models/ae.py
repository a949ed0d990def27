"""Autoencoder: x -> encode -> z -> decode -> x_hat, trained on reconstruction alone.

loss: -log p(x|x_hat) summed over pixels (BCE for `bce`, squared error for `mse`).
Architectures (``arch``): the `mlp` and `conv` families of ``nets.py``; the three
convolutional autoencoders of the lecture notes' checkpoint solutions
(`conv-lecture1`, `conv-lecture2`, `conv-lecture3`, see ``presets.py``), whose code
size is fixed by the net; and `linear` (no activation anywhere, decoder output
used as is, recon must be `mse`): the autoencoder that learns PCA's subspace
(compare with ``latentlab.analysis.linear.compare_pca``).

Denoising (Vincent et al. 2008): with ``noise`` (e.g. "gaussian:0.4", see
``latentlab.data.noise``) the training loss encodes a freshly corrupted copy of each
batch and is measured against the clean batch. ``evaluate`` reports the same
objective on corrupted inputs (noise drawn from a fixed seed, so validation
epochs compare) and the clean-input terms as ``clean_*``.

Tabular data (rows of D standardised features, the (1, 1, D) layout of ``latentlab.data.tabular``):
the `mlp` and `linear` architectures apply (the conv ones have no image to convolve and refuse it),
the decoder's output is used as is (no sigmoid: features are not in [0, 1]) and the loss is the
squared error, sum_j (x_j - x_hat_j)^2: ``recon`` is set to "mse" (and recorded so) whatever was given,
since BCE needs targets in [0, 1].

A plain autoencoder has no prior, so sampling decodes draws from a Gaussian
fitted to the training latents (``fit_end``; at most 10,000 evenly spaced training images), or from N(0, I) with ``prior="standard"``
(or U[0, 1), the notes' ``np.random.rand``, with ``prior="uniform"``) to show the
lecture notes' point that an AE's latent space is not a generative model.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from latentlab.config import check_choices, setting
from latentlab.errors import ConfigError
from latentlab.models.base import Encoder, GenerativeModel, Sampler
from latentlab.nn.likelihoods import bernoulli_nll, squared_error
from latentlab.nn.nets import ACTIVATIONS, decoder_net, encoder_net
from latentlab.nn.presets import LECTURE_ARCHS, LectureDecoder, LectureEncoder, LinearDecoder, LinearEncoder, code_shape
from latentlab.data.noise import parse_noise
from latentlab.data.tabular import is_tabular

AE_LOSSES = ("bce", "mse")
AE_ARCHS = ("mlp", "conv", "linear", *LECTURE_ARCHS)
DEFAULT_LATENT = 16
FIT_MAX = 10_000  # training codes the latent Gaussian is fitted to (evenly spaced), bounding its cost per epoch


@dataclass
class AEConfig:
    arch: str = setting("mlp", "encoder/decoder: mlp, conv, linear (PCA's twin; needs recon mse) or a lecture preset "
                        "conv-lecture1/2/3 (the notes' checkpoint solutions 1-3)", AE_ARCHS)
    latent_dim: int | None = setting(None, "size of the code z: 16 when not given; the conv-lecture presets fix it "
                                     "(C*H/4*W/4: 49, 784, 1960 on MNIST), so leave it out for them")
    hidden: int = setting(512, "units per hidden layer (MLP) / of the dense layer (conv)")
    layers: int = setting(1, "hidden layers of the MLP encoder and decoder")
    channels: int = setting(32, "channels of the first conv layer (the second has twice as many)")
    activation: str = setting("relu", "activation of the MLP hidden layers", tuple(ACTIVATIONS))
    recon: str = setting("bce", "reconstruction loss: bce (sum over pixels) or mse (sum of squared errors); "
                         "tabular (N, D) data always uses mse", AE_LOSSES)
    noise: str = setting("", "denoising AE: corrupt each training batch afresh and learn corrupted -> clean; "
                         "gaussian:SIGMA, mask:P or saltpepper:P (e.g. gaussian:0.4); empty = plain AE")

    def validate(self) -> None:
        check_choices(self)
        if self.latent_dim is None and self.arch not in LECTURE_ARCHS:
            self.latent_dim = DEFAULT_LATENT
        if (self.latent_dim is not None and self.latent_dim < 1) or self.hidden < 1 or self.layers < 1 or self.channels < 1:
            raise ConfigError("latent_dim, hidden, layers and channels must all be at least 1")
        if self.arch == "linear" and self.recon != "mse":
            raise ConfigError("arch linear has no output sigmoid, so BCE does not apply: add --recon mse (recon='mse')")
        parse_noise(self.noise)  # raises ConfigError on a bad spec


class AE(GenerativeModel, Sampler, Encoder):
    name = "ae"
    Config = AEConfig
    PRIORS = ("fitted", "standard", "uniform")  # what sample(prior=...) decodes draws of

    def __init__(self, cfg: AEConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        self.noise = parse_noise(cfg.noise)
        self.tabular = is_tabular(shape)  # rows of standardised features, not images
        if self.tabular:
            if cfg.arch not in ("mlp", "linear"):
                raise ValueError(f"tabular data (rows of {shape[-1]} features) has no image for --arch {cfg.arch} to "
                                 f"convolve: use --arch mlp (or linear)")
            if self.noise is not None:
                raise ValueError(f"the denoising corruptions (--noise {cfg.noise}) act on pixels in [0, 1], and tabular data "
                                 f"holds standardised features: drop --noise")
            cfg.recon = "mse"  # standardised features are not probabilities: BCE does not apply (config.json records it)
        self.linear_output = cfg.arch == "linear" or self.tabular  # decoder output is the data itself, not logits
        if cfg.arch in LECTURE_ARCHS:
            size = int(torch.tensor(code_shape(cfg.arch, shape)).prod())
            if cfg.latent_dim is not None and cfg.latent_dim != size:
                raise ValueError(f"--arch {cfg.arch} has a code of {size} numbers {code_shape(cfg.arch, shape)} on "
                                 f"{shape[1]}x{shape[2]} images; leave latent_dim out (or give {size})")
            self.latent_dim = size
            self.encoder = LectureEncoder(cfg.arch, shape)  # -> (B, latent)
            self.decoder = LectureDecoder(cfg.arch, shape)  # -> (B, C, H, W) logits
        elif cfg.arch == "linear":
            self.latent_dim = cfg.latent_dim or DEFAULT_LATENT
            self.encoder = LinearEncoder(shape, self.latent_dim)  # -> (B, latent)
            self.decoder = LinearDecoder(shape, self.latent_dim)  # -> (B, C, H, W) pixels
        else:
            self.latent_dim = cfg.latent_dim or DEFAULT_LATENT
            net = dict(hidden=cfg.hidden, layers=cfg.layers, channels=cfg.channels, act=cfg.activation)
            self.encoder = encoder_net(cfg.arch, shape, self.latent_dim, **net)  # -> (B, latent)
            self.decoder = decoder_net(cfg.arch, shape, self.latent_dim, **net)  # -> (B, C, H, W) logits
        # Gaussian fitted to the training codes (fit_end): mean and Cholesky factor of the covariance.
        self.register_buffer("latent_mean", torch.zeros(self.latent_dim))
        self.register_buffer("latent_chol", torch.eye(self.latent_dim))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's code z of each image: (B, C, H, W) -> (B, latent) (with autograd; ``latent`` is without)."""
        return self.encoder(x)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images from codes: (B, latent) -> (B, C, H, W), in [0, 1] but for arch linear and tabular data
        (the decoder's output as is)."""
        self.check_labels(y, len(z))
        out = self.decoder(z)
        return out if self.linear_output else torch.sigmoid(out)

    def recon_terms(self, x_in: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction terms of decode(encode(x_in)) against the target x, per image averaged over the batch."""
        out = self.decoder(self.encoder(x_in))
        if self.linear_output:
            sq = (x - out).pow(2).flatten(1).sum(1).mean()
            return {"loss": sq, "sse": sq, "mse": sq / x[0].numel()}
        bce, sq = bernoulli_nll(out, x).mean(), squared_error(out, x).mean()
        return {"loss": bce if self.cfg.recon == "bce" else sq, "bce": bce, "sse": sq, "mse": sq / x[0].numel()}

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, group: str = "model") -> dict[str, torch.Tensor]:
        x_in = self.noise(x) if self.noise is not None and self.training else x  # fresh corruption every batch
        return self.recon_terms(x_in, x)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if self.noise is None:
            return self.recon_terms(x, x)
        noisy = self.noise(x, torch.Generator(device=x.device).manual_seed(0))
        clean = {f"clean_{k}": v for k, v in self.recon_terms(x, x).items() if k != "loss"}
        return {**self.recon_terms(noisy, x), **clean}

    @torch.no_grad()
    def latent(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y, len(x))
        return self.encoder(x)

    @torch.no_grad()
    def fit_end(self, x_train: torch.Tensor) -> None:
        if len(x_train) > FIT_MAX:
            x_train = x_train[torch.linspace(0, len(x_train) - 1, FIT_MAX).long()]
        codes = torch.cat([self.encode(b.to(self.device)) for b in x_train.split(1024)]).double()  # (N, latent)
        d = codes.shape[1]
        # one training image has no spread to fit: a zero covariance (the jitter below makes it a point mass)
        cov = torch.cov(codes.T).reshape(d, d) if len(codes) > 1 else codes.new_zeros(d, d)
        eye = torch.eye(len(cov), dtype=cov.dtype, device=cov.device)
        jitter = 1e-6
        chol, info = torch.linalg.cholesky_ex(cov + jitter * eye)
        while info.item() and jitter < 1e3:  # codes that are (nearly) constant: more jitter
            jitter *= 10
            chol, info = torch.linalg.cholesky_ex(cov + jitter * eye)
        self.latent_mean.copy_(codes.mean(0))
        self.latent_chol.copy_(chol)

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None, generator: torch.Generator | None = None,
               prior: str = "fitted") -> torch.Tensor:
        """Decode latent draws: ``fitted`` Gaussian of the training codes, ``standard`` N(0, I), or ``uniform`` U[0, 1)."""
        self.check_labels(y, n)
        if prior not in self.PRIORS:
            raise ValueError(f"prior must be one of {', '.join(self.PRIORS)}, got {prior!r}")
        if prior == "uniform":
            return self.decode(torch.rand(n, self.latent_dim, generator=generator, device=self.device))
        eps = torch.randn(n, self.latent_dim, generator=generator, device=self.device)
        if prior == "standard":
            return self.decode(eps)
        return self.decode(self.latent_mean + eps @ self.latent_chol.T)
