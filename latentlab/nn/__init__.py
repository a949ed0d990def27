"""Building blocks shared by the models: encoder/decoder networks and ``mlp`` (``nets``), GAN networks
(``gan_nets``), the lecture notes' autoencoders (``presets``), log-likelihoods and importance weights
(``likelihoods``), divergences, the reparameterization trick and the adversarial losses (``losses``)."""
