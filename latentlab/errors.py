"""Errors that are the user's to fix.

Every error raised for bad input derives from ``LatentlabError``: the CLI prints
its message (no traceback) and exits with the error's ``exit_code``. The message
names the problem *and* the fix.

    exit code   class                 meaning
    2           LatentlabError        bad input, an unservable request, a damaged or busy run folder
    1           TrainingStopped       training could not go on (NaN, a lost distributed process)
    3           DiskFull              a write failed for lack of space; the last complete checkpoint is kept
"""


class LatentlabError(Exception):
    """Bad input or an unservable request; the message teaches the fix."""

    exit_code = 2


class DataError(LatentlabError):
    """A dataset could not be found, read, verified or validated."""


class ConfigError(LatentlabError):
    """A setting is unknown, of the wrong type, or out of range."""


class RunFolderError(LatentlabError):
    """A run folder is damaged (a checkpoint part that does not match its manifest, a file that is not what
    its name says) or in use by another process."""


class TrainingStopped(LatentlabError):
    """Training could not go on (exit code 1, not 2): the run folder keeps its last checkpoint."""

    exit_code = 1


class TrainingDiverged(TrainingStopped):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class DistributedError(TrainingStopped):
    """A process of a distributed job died or could not be reached."""


class DiskFull(LatentlabError):
    """A write failed with ENOSPC or EDQUOT (exit code 3): the disk or the quota is full. The last complete
    checkpoint is kept; the message says where and how to continue."""

    exit_code = 3
