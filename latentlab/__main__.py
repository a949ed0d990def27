"""`python -m latentlab` (what `torchrun -m latentlab` runs) is the CLI."""
import sys

from latentlab.cli.main import main

sys.exit(main())
