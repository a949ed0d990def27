"""Errors that are the user's to fix.

Every error raised for bad input derives from ``LatentlabError``: the CLI prints
its message (no traceback) and exits with code 2. The message names the problem
*and* the fix.
"""


class LatentlabError(Exception):
    """Bad input or an unservable request; the message teaches the fix."""


class DataError(LatentlabError):
    """A dataset could not be found, read, verified or validated."""


class ConfigError(LatentlabError):
    """A setting is unknown, of the wrong type, or out of range."""


class TrainingStopped(LatentlabError):
    """Training could not go on (exit code 1, not 2): the run folder keeps its last checkpoint."""


class TrainingDiverged(TrainingStopped):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class DistributedError(TrainingStopped):
    """A process of a distributed job died or could not be reached."""
