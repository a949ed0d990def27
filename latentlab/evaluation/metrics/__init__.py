"""Sample-quality metrics on feature vectors and predicted labels (numpy in, numbers out).

- ``frechet_distance(a, b)``: Frechet distance of Gaussians fitted to two (N, D) feature sets;
- ``prdc(real, fake, k=3)``: improved precision/recall and density/coverage;
- ``mode_coverage(predicted, data_distribution)``: label histogram, classes covered, KL.

``latentlab.evaluation.classifier`` supplies the features and labels; ``latentlab eval RUN --samples N`` uses both.
"""
from latentlab.evaluation.metrics.frechet import frechet_distance, min_samples
from latentlab.evaluation.metrics.modes import class_distribution, kl_divergence, mode_coverage
from latentlab.evaluation.metrics.prdc import prdc

__all__ = ["frechet_distance", "min_samples", "prdc", "mode_coverage", "class_distribution", "kl_divergence"]
