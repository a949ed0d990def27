"""Conditional VAE (Sohn et al. 2015; Kingma et al. 2014's M2 with the label observed).

The one-hot label y feeds both networks, so the latent z is free to hold the *style*
(slant, thickness) and the label the *class*:

encode:  q(z|x, y) = N(mu(x, y), diag(exp(logvar(x, y))))
         MLP: [flatten(x), onehot(y)] -> hidden layers;  conv: y as K constant input planes beside x
decode:  p(x|z, y) with logits decoder([z, onehot(y)])
prior:   p(z) = N(0, I), independent of y
loss:    -ELBO(x|y) = E_q[-log p(x|z, y)] + beta * KL(q(z|x, y) || N(0, I)) (or the IWAE bound of log p(x|y))

``sample(n, y)`` draws z from the prior and decodes it with label y: one digit in many
styles (``latentlab sample RUN --label 6 --n 64``). The likelihood estimator scores the
conditional log p(x|y). Every option of the VAE (beta, iwae, warm-up, mlp/conv) applies.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentlab.config import setting
from latentlab.errors import ConfigError, LatentlabError
from latentlab.models.base import ConditionalEncoder, ConditionalSampler
from latentlab.models.vae import VAEConfig, VariationalModel
from latentlab.nn.nets import decoder_net, encoder_net


@dataclass
class CVAEConfig(VAEConfig):
    # Two hidden layers where the VAE has one: with one, the decoder took the class partly from z (72% of the
    # samples drawn for a label showed that digit, MNIST, 10 epochs); with two and 50 epochs, 98.4%
    # (bench/cvae_defaults.py)
    layers: int = setting(2, "hidden layers of the MLP encoder and decoder")


class CVAE(VariationalModel, ConditionalSampler, ConditionalEncoder):
    """Conditional VAE: the one-hot label feeds encoder and decoder, z holds the style (Sohn et al. 2015).

    Every method that touches the networks needs the labels: ``posterior(x, y)``, ``latent(x, y)``,
    ``reconstruct(x, y)``, ``decode(z, y)``, ``sample(n, y)``."""

    name = "cvae"
    Config = CVAEConfig
    train_defaults = {"epochs": 50}  # after 10, one sample in ten shows another digit (bench/cvae_defaults.py)

    def build_nets(self, cfg: CVAEConfig, shape: tuple[int, int, int]) -> None:
        if not self.num_classes:
            raise ConfigError("a cvae needs labelled data (the label conditions both networks); "
                              "choose a labelled dataset, or train an unconditional vae")
        c, h, w = shape
        k = self.num_classes
        net = dict(hidden=cfg.hidden, layers=cfg.layers, channels=cfg.channels, act=cfg.activation)
        if cfg.arch == "mlp":  # [x flattened, one-hot] as one vector
            enc_shape = (1, 1, c * h * w + k)
        else:  # the one-hot as K constant planes beside the image channels
            enc_shape = (c + k, h, w)
        self.encoder = encoder_net(cfg.arch, enc_shape, 2 * cfg.latent_dim, **net)  # -> (B, 2 * latent)
        self.decoder = decoder_net(cfg.arch, shape, cfg.latent_dim + k, **net)  # [z, one-hot] -> (B, C, H, W) logits

    def onehot(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y.long(), self.num_classes).float()  # (B, K)

    def need_labels(self, y: torch.Tensor | None) -> torch.Tensor:
        if y is None:
            raise LatentlabError("a cvae needs the labels of its images: pass y (the run's data must be labelled)")
        return y

    def encoder_input(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        b, (c, h, w) = len(x), self.shape
        oh = self.onehot(self.need_labels(y))  # (B, K)
        if self.cfg.arch == "mlp":
            return torch.cat([x.flatten(1), oh], 1).view(b, 1, 1, -1)  # (B, 1, 1, C*H*W + K)
        return torch.cat([x, oh[:, :, None, None].expand(b, -1, h, w)], 1)  # (B, C + K, H, W)

    def decoder_input(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([z, self.onehot(self.need_labels(y))], 1)  # (B, latent + K)
