"""One module per `latentlab` sub-command (discovered by latentlab.cli)."""
