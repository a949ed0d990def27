"""Uses of trained models: anomaly detection (``anomaly``), clustering of latent codes
(``cluster``), latent-space exploration (``explore``), the linear autoencoder against PCA (``linear``)."""
