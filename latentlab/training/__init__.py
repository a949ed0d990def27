"""Training: the one loop (``loop``), the run folder and its checkpoints (``run_folder``),
distributed data parallel (``distributed``), the per-epoch pictures (``callbacks``) and the
TensorBoard event files (``events``)."""
