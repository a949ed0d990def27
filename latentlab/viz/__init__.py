"""Pictures: sample and reconstruction grids, loss curves, latent maps and the HTML report
(``plots``), the animated GIF of a generator's training (``gif``)."""
