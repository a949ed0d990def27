"""VaDE: a VAE whose prior is a Gaussian mixture, one component per cluster (Jiang et al. 2017).

Generative model (section 3.1 of the paper; K = ``clusters``, J = ``latent_dim``):

    c ~ Cat(pi),   z | c ~ N(mu_c, diag(sigma_c^2)),   x | z ~ Bernoulli(sigmoid(decoder(z)))

mu_c and log sigma_c^2 are parameters learned with the networks; pi = softmax(pi_logits) is uniform and
fixed unless ``learn_pi`` (then a parameter too; see "Against collapse" below).
Inference: q(z, c|x) = q(z|x) q(c|x), q(z|x) = N(mu~(x), diag(sigma~^2(x))) from the encoder, and
q(c|x) the responsibilities of the sampled z (eq. 16; written gamma_c):

    gamma_c = p(c|z) = pi_c N(z; mu_c, sigma_c^2) / sum_c' pi_c' N(z; mu_c', sigma_c'^2)

Loss, -ELBO of eq. 11 per image, one draw z = mu~ + sigma~ * eps (nats per image, summed over pixels and
latents, averaged over the batch, as the VAE's):

    rec = -log p(x|z)                                                       (binary cross-entropy)
    kl  = KL(q(z, c|x) || p(z, c))
        = 1/2 sum_c gamma_c sum_j [log sigma_cj^2 + sigma~_j^2 / sigma_cj^2 + (mu~_j - mu_cj)^2 / sigma_cj^2]
          - sum_c gamma_c log(pi_c / gamma_c) - 1/2 sum_j (1 + log sigma~_j^2)
    loss = rec + kl

(the log 2 pi terms of log p(z|c) and log q(z|x) cancel). With one cluster at mu = 0, sigma = 1 the kl
is the VAE's KL to N(0, I). The clusters of images are argmax_c gamma_c (``cluster(x)``, taking z as
the posterior mean mu~, so that the answer is deterministic).

Pretraining: the paper starts from a pretrained autoencoder and a Gaussian mixture fitted to its codes.
Here ``pretrain`` epochs (an epoch counter kept in the model, so --resume continues) train the
networks as a plain autoencoder (rec of decoder(mu~), the mixture untouched); at the end of each of
them ``fit_end`` fits a Gaussian mixture (scikit-learn, random_state 0; diagonal, or full with its
diagonal kept: ``covariance``) to the codes mu~ of the training images and copies it into mu_c,
sigma_c^2 (and pi, when ``learn_pi``); from the next epoch on the loss is the ELBO. At the end of the
last pretraining epoch the encoder's log sigma~^2 output, which the autoencoder never trained, is set to
the mixture's mean log sigma_c^2 per dimension (``init_posterior_variance``): its random output
(sigma~^2 near 1, many times a cluster's variance) scrambled the pretrained codes (bundled digits,
hidden 256,256,512, 10 + 30 epochs: test cluster accuracy 32% without, 57% with).
With ``pretrain`` 0 everything is learned jointly from scratch (mu_c ~ N(0, I) at construction,
sigma_c = 1, pi uniform), which clusters worse (the same digits run: every image in one cluster).
``init_mixture(codes)`` does the same fit for a caller holding codes of its own. Validation and test
"loss" is always the -ELBO (a pretraining epoch's validation loss too), so the best checkpoint and
early stopping compare like with like.

Against collapse (measured on the bundled digits: 8x8, trained on the 1,294 training images, clustered all
1,797; hidden 256,256,512, 10 pretraining + 30 ELBO epochs, batch 100, seeds 0-2; mean cluster accuracy):

- ``learn_pi`` (default off). A learned pi feeds itself: a component with a larger pi_c takes larger
  responsibilities gamma_c, whose mean is where the ELBO's gradient moves pi_c, so a few components end
  up with all the mass and several classes share a cluster. Fixed uniform pi, the usual fix in VaDE
  reimplementations, is right when the clusters are about equally large (MNIST's digits: 9-11% each).
  With the lr 2e-3 throughout: 48% fixed against 38% learned (learned pi ended between 0.02 and 0.32,
  3 to 9 clusters in use). With a gentler ELBO (below) both reach 60%: fixed pi is never worse.
- The learning rate after pretraining matters more than pi. The ELBO's first steps move the codes of
  the pretrained encoder by several cluster widths (the log sigma~^2 head, mu_c and sigma_c^2 start with
  fresh Adam moments; the sampled z is suddenly noisy), and components lose every image even with pi
  fixed (seed 0: 10 clusters in use before the first ELBO epoch, 6 after it). The loop's lr is one for
  the whole run, so run the pretraining, then ``--resume`` with a lower ``--lr`` (which may change on
  resume). lr after pretraining 2e-3: 48%; 1e-3: 56%; 5e-4: 60.5% (NMI 63%); 2e-4: 60% (all 10
  clusters in use from 5e-4 down). The mixture fitted to the pretrained codes alone: 57% (seed 0).
- ``covariance`` (default diag, the paper's). A full-covariance fit (its diagonal kept, as the prior is
  diagonal) follows the correlated codes of an autoencoder better: the mixture alone 63% against 59%
  (one pretrained autoencoder, mixture seeds 0-2), and after the gentler ELBO (lr 5e-4) 63.4% (NMI 66%)
  against 60.5% (63%); under lr 2e-3 throughout it did worse (40% against 48%, collapse dominating).
  Not the default until it is measured on MNIST.

The paper's recipe (MNIST 94.46%): an autoencoder pretrained far longer (a stacked denoising autoencoder,
layer-wise, then fine-tuned), the ELBO with Adam at lr 2e-3, batch 100, the lr decayed by 0.9 every 10
epochs. Here: ``latentlab train vade --dataset mnist --epochs P --pretrain P`` (the defaults are the
paper's 784-500-500-2000-10, lr 2e-3, batch 100), then ``latentlab train vade --resume RUN --epochs N
--lr 5e-4 --lr-schedule cosine`` (a decaying lr in place of the 0.9 steps, which end at 0.9^(N/10) of
the lr: ``--lr-floor`` can match that). In one run, ``--lr-schedule cosine`` decays the lr of both
phases together.

Likelihood: the prior is not N(0, I), so VaDE is not a ``LikelihoodModel`` (whose importance sampler
assumes one); ``log_likelihood(x, k, generator)`` is its own importance-sampled estimate of log p(x)
(Burda et al. 2015, eq. 8) with log p(z) = logsumexp_c [log pi_c + log N(z; mu_c, sigma_c^2)].
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.config import check_choices, setting
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.base import Encoder, GenerativeModel, ImportanceSampled, Sampler
from latentlab.nn.likelihoods import bernoulli_nll, log_bernoulli, log_normal, sample_chunk
from latentlab.nn.nets import ACTIVATIONS, mlp


def parse_sizes(text) -> list[int]:
    """"500,500,2000" -> [500, 500, 2000]; ConfigError unless every value is a positive integer."""
    try:
        sizes = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"hidden must be comma-separated positive layer sizes, e.g. 500,500,2000; got {text!r}")
    return sizes


@dataclass
class VaDEConfig:
    clusters: int = setting(10, "K, the Gaussian components of the prior: one per cluster")
    latent_dim: int = setting(10, "size of the latent vector z (the paper's 10)")
    hidden: str = setting("500,500,2000", "hidden layer sizes of the MLP encoder, comma-separated; the decoder "
                                          "mirrors them (the paper's 784-500-500-2000-10)")
    activation: str = setting("relu", "activation of the hidden layers", tuple(ACTIVATIONS))
    pretrain: int = setting(10, "epochs of plain autoencoder training before the mixture is fitted to the codes "
                                "and the ELBO takes over (0 = learn everything jointly from scratch)")
    learn_pi: bool = setting(False, "learn the mixture weights pi with the networks (and take them from the fitted "
                                    "mixture); off: pi stays uniform, 1/K, which keeps a few components from taking "
                                    "every image (right when the clusters are about equally large, as MNIST's digits)")
    covariance: str = setting("diag", "covariances of the Gaussian mixture fitted to the pretrained codes: diag, or "
                                      "full, of which the prior keeps the diagonal (the prior is diagonal either way)",
                              ("diag", "full"))

    def validate(self) -> None:
        check_choices(self)
        parse_sizes(self.hidden)
        if self.clusters < 1 or self.latent_dim < 1:
            raise ConfigError(f"clusters and latent_dim must be at least 1, got {self.clusters} and {self.latent_dim}")
        if self.pretrain < 0:
            raise ConfigError(f"pretrain must be >= 0 epochs (0 = no pretraining), got {self.pretrain}")


class VaDE(GenerativeModel, Sampler, Encoder, ImportanceSampled):
    """VaDE: a VAE with a Gaussian-mixture prior whose components are the clusters (Jiang et al. 2017)."""

    name = "vade"
    Config = VaDEConfig
    train_defaults = {"epochs": 50, "batch_size": 100, "lr": 2e-3}  # the paper's Adam lr 0.002, batch 100

    def __init__(self, cfg: VaDEConfig, shape: tuple[int, int, int], num_classes: int | None = None):
        super().__init__(cfg, shape, num_classes)
        d, j, k = math.prod(shape), cfg.latent_dim, cfg.clusters
        sizes = parse_sizes(cfg.hidden)
        act = ACTIVATIONS[cfg.activation]
        self.encoder = nn.Sequential(nn.Flatten(), mlp([d, *sizes, 2 * j], act))  # (B, 2J): mu~, log sigma~^2
        self.decoder = mlp([j, *sizes[::-1], d], act)  # (B, J) -> (B, D) pixel logits
        pi_logits = torch.zeros(k)  # (K,) pi = softmax(pi_logits): uniform
        if cfg.learn_pi:
            self.pi_logits = nn.Parameter(pi_logits)
        else:  # fixed: a buffer, saved under the same name as the parameter (so either kind of checkpoint loads)
            self.register_buffer("pi_logits", pi_logits)
        self.mu_c = nn.Parameter(torch.randn(k, j))  # (K, J)
        self.logvar_c = nn.Parameter(torch.zeros(k, j))  # (K, J) log sigma_c^2
        self.register_buffer("epoch", torch.zeros((), dtype=torch.long))  # epochs ended (fit_end calls), for pretrain

    # --- the maths ------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu~, log sigma~^2) of q(z|x), each (B, J), with autograd."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decoder_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits of p(x|z): (B, J) -> (B, C, H, W)."""
        return self.decoder(z).view(-1, *self.shape)

    def log_joint_c(self, z: torch.Tensor) -> torch.Tensor:
        """log pi_c + log N(z; mu_c, sigma_c^2) for every component: z (..., J) -> (..., K)."""
        log_pz_c = log_normal(z.unsqueeze(-2), self.mu_c, self.logvar_c)  # (..., K)
        return F.log_softmax(self.pi_logits, 0) + log_pz_c

    def log_responsibilities(self, z: torch.Tensor) -> torch.Tensor:
        """log gamma_c = log p(c|z) (eq. 16): z (..., J) -> (..., K), normalised over c."""
        return F.log_softmax(self.log_joint_c(z), dim=-1)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) = logsumexp_c [log pi_c + log N(z; mu_c, sigma_c^2)]: (..., J) -> (...)."""
        return torch.logsumexp(self.log_joint_c(z), dim=-1)

    def mixture_kl(self, mu: torch.Tensor, logvar: torch.Tensor, log_gamma: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) q(c|x) || p(z|c) p(c)) per image, eq. 11's latent terms: mu, logvar (B, J),
        log_gamma (B, K) -> (B,)."""
        gamma = log_gamma.exp()  # (B, K)
        var_c = self.logvar_c.exp()  # (K, J)
        spread = logvar.exp().unsqueeze(1) + (mu.unsqueeze(1) - self.mu_c).pow(2)  # (B, K, J)
        cross = (self.logvar_c + spread / var_c).sum(-1)  # (B, K)
        log_pi = F.log_softmax(self.pi_logits, 0)  # (K,)
        return (0.5 * (gamma * cross).sum(1) + (gamma * (log_gamma - log_pi)).sum(1)
                - 0.5 * (1 + logvar).sum(1))

    def pretraining(self) -> bool:
        return self.training and int(self.epoch) < self.cfg.pretrain

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, group: str = "model") -> dict[str, torch.Tensor]:
        mu, logvar = self.encode(x)  # (B, J) each
        if self.pretraining():  # a plain autoencoder on the code mu~; the mixture is fitted in fit_end
            rec = bernoulli_nll(self.decoder_logits(mu), x).mean()
            with torch.no_grad():
                kl = self.mixture_kl(mu, logvar, self.log_responsibilities(mu)).mean()
            return {"loss": rec, "rec": rec.detach(), "kl": kl, "neg_elbo": rec.detach() + kl}
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # one draw of q(z|x), (B, J)
        rec = bernoulli_nll(self.decoder_logits(z), x).mean()
        kl = self.mixture_kl(mu, logvar, self.log_responsibilities(z)).mean()
        return {"loss": rec + kl, "rec": rec, "kl": kl, "neg_elbo": rec + kl}

    @torch.no_grad()
    def init_mixture(self, codes: torch.Tensor, seed: int = 0) -> None:
        """Fit a Gaussian mixture of ``clusters`` components to codes (N, J) (scikit-learn, EM from k-means,
        random_state ``seed``; ``covariance`` diag, or full and its diagonal kept) and make it the prior: mu_c,
        sigma_c^2, and pi when ``learn_pi`` (else pi stays uniform)."""
        from sklearn.mixture import GaussianMixture
        k = self.cfg.clusters
        if len(codes) < k:
            raise LatentlabError(f"fitting {k} mixture components needs at least {k} codes, got {len(codes)}: "
                                 "use fewer --clusters or more training images")
        gmm = GaussianMixture(k, covariance_type=self.cfg.covariance, random_state=seed)
        gmm.fit(codes.double().cpu().numpy())
        var = gmm.covariances_ if self.cfg.covariance == "diag" else gmm.covariances_.diagonal(0, 1, 2).copy()  # (K, J)
        as_param = lambda a: torch.as_tensor(a, dtype=self.mu_c.dtype, device=self.mu_c.device)  # noqa: E731
        if self.cfg.learn_pi:
            self.pi_logits.copy_(as_param(gmm.weights_).clamp_min(1e-12).log())
        self.mu_c.copy_(as_param(gmm.means_))
        self.logvar_c.copy_(as_param(var).log())

    @torch.no_grad()
    def fit_end(self, x_train: torch.Tensor) -> None:
        """After a pretraining epoch: the mixture fitted to the codes of the training images; count the epoch."""
        if int(self.epoch) < self.cfg.pretrain:
            codes = torch.cat([self.encode(b.to(self.device))[0] for b in x_train.split(1_000)])  # (N, J)
            self.init_mixture(codes)
            if int(self.epoch) == self.cfg.pretrain - 1:  # the last one: the ELBO starts next
                self.init_posterior_variance()
        self.epoch += 1

    @torch.no_grad()
    def init_posterior_variance(self) -> None:
        """Make the encoder's log sigma~^2 output, which the autoencoder never trained, the mixture's mean
        log-variance per dimension for every image (zero weights, that bias)."""
        head = self.encoder[1][-1]  # the last Linear: (B, 2J) = (mu~, log sigma~^2)
        j = self.cfg.latent_dim
        head.weight[j:].zero_()
        head.bias[j:].copy_(self.logvar_c.mean(0))

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, k: int = 5000, generator: torch.Generator | None = None,
                       chunk: int | None = None) -> torch.Tensor:
        """Importance-sampled log p(x) per image, (B,) nats: logsumexp_i log w_i - log k, z_i ~ q(z|x),
        log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x) (Burda et al. 2015, eq. 8), ``chunk`` draws at a time."""
        if k < 1:
            raise LatentlabError(f"k (importance samples per image) must be at least 1, got {k}")
        chunk = chunk or sample_chunk(k, len(x))
        mu, logvar = self.encode(x)  # (B, J)
        total = None  # running logsumexp, (B,)
        for start in range(0, k, chunk):
            eps = torch.randn(min(chunk, k - start), *mu.shape, generator=generator, device=mu.device)  # (S, B, J)
            z = mu + torch.exp(0.5 * logvar) * eps
            log_q = log_normal(eps) - 0.5 * logvar.sum(-1)  # (S, B)
            log_px = log_bernoulli(self.decoder(z.flatten(0, 1)).view(*z.shape[:2], -1), x)  # (S, B)
            part = torch.logsumexp(log_px + self.log_prior(z) - log_q, dim=0)
            total = part if total is None else torch.logaddexp(total, part)
        return total - math.log(k)

    # --- what users call ------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | int | None = None) -> torch.Tensor:
        """Mean image of p(x|z) in [0, 1]: (B, J) -> (B, C, H, W)."""
        self.check_labels(y, len(z))
        return torch.sigmoid(self.decoder_logits(z))

    @torch.no_grad()
    def latent(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean mu~: (B, J)."""
        self.check_labels(y, len(x))
        return self.encode(x)[0]

    @torch.no_grad()
    def cluster_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """gamma_c = p(c|z) at z = mu~(x): (B, C, H, W) -> (B, K), rows summing to 1."""
        return self.log_responsibilities(self.encode(x)[0]).exp()

    @torch.no_grad()
    def cluster(self, x: torch.Tensor) -> torch.Tensor:
        """The cluster of each image, argmax_c gamma_c: (B, C, H, W) -> (B,) long in 0..K-1."""
        return self.cluster_probabilities(x).argmax(1)

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | int | None = None, generator: torch.Generator | None = None,
               cluster: int | None = None) -> torch.Tensor:
        """c ~ Cat(pi) (or the given ``cluster``), z ~ N(mu_c, sigma_c^2), the mean image of p(x|z): (n, C, H, W)."""
        self.check_labels(y, n)
        if cluster is None:
            c = torch.multinomial(F.softmax(self.pi_logits, 0), n, replacement=True, generator=generator)  # (n,)
        elif 0 <= cluster < self.cfg.clusters:
            c = torch.full((n,), cluster, dtype=torch.long, device=self.device)
        else:
            raise LatentlabError(f"cluster {cluster} is outside 0..{self.cfg.clusters - 1}")
        eps = torch.randn(n, self.cfg.latent_dim, generator=generator, device=self.device)  # (n, J)
        return self.decode(self.mu_c[c] + torch.exp(0.5 * self.logvar_c[c]) * eps)
