"""latentlab.evaluation as a package: its metrics import without the training machinery."""
import subprocess
import sys


def test_the_metrics_import_light():
    code = ("import sys, latentlab.evaluation.metrics, latentlab.evaluation; "
            "print(sorted(m for m in sys.modules if m.startswith(('latentlab.training', 'latentlab.models'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
