"""Training workers of a parallel simulation (see `sims.workers.pool`)."""
