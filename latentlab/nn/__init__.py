"""Building blocks shared by the models: encoder/decoder networks (``nets``), GAN networks
(``gan_nets``), the lecture notes' autoencoders (``presets``), reconstruction likelihoods (``likelihoods``)."""
