"""What the training-loop tests share: a Ctrl-C pressed at a chosen step."""
import importlib

import pytest

loop = importlib.import_module("latentlab.training.loop")  # the module (latentlab.training.loop is also the function)


class _StopAfter(loop._StopFlag):
    """The loop's Ctrl-C flag, acting as if Ctrl-C were pressed during step ``steps + 1``."""

    steps = 5

    def __init__(self):
        super().__init__()
        self.checks = 0

    @property
    def set(self):
        self.checks += 1
        return self.checks > self.steps

    @set.setter
    def set(self, value):
        pass


class CtrlC:
    def __init__(self, monkeypatch):
        self.monkeypatch, self.real = monkeypatch, loop._StopFlag

    def press_after(self, steps: int = 5) -> None:
        """From now on every run is interrupted during step steps + 1 (its KeyboardInterrupt checkpoint)."""
        self.monkeypatch.setattr(loop, "_StopFlag", type("StopAfter", (_StopAfter,), {"steps": steps}))

    def release(self) -> None:
        """Runs go on uninterrupted again."""
        self.monkeypatch.setattr(loop, "_StopFlag", self.real)


@pytest.fixture
def ctrl_c(monkeypatch) -> CtrlC:
    return CtrlC(monkeypatch)
