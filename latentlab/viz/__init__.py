"""Pictures: sample and reconstruction grids, loss curves, latent maps and the HTML report
(``plots``), the animated GIF of a generator's training (``gif``), evaluation figures as rows a
person reads (``summary``: report.html, `latentlab score` and `latentlab eval` print them)."""
