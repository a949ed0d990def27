"""latentlab: train, evaluate, sample and explore autoencoders, VAEs and GANs.

    import latentlab
    run = latentlab.train("vae", dataset="digits", epochs=5)
    model = latentlab.load(run.dir)
    images = model.sample(16)            # (16, 1, 8, 8) in [0, 1]
"""
__version__ = "0.1.0"

from latentlab.data import load_dataset  # noqa: E402
from latentlab.errors import ConfigError, DataError, LatentlabError, TrainingDiverged  # noqa: E402
from latentlab.models import MODELS  # noqa: E402
from latentlab.run import load, load_decoder, read_metrics, read_run  # noqa: E402
from latentlab.train import Run, train  # noqa: E402

__all__ = ["train", "load", "load_decoder", "load_dataset", "read_run", "read_metrics", "Run", "MODELS",
           "LatentlabError", "DataError", "ConfigError", "TrainingDiverged", "__version__"]
