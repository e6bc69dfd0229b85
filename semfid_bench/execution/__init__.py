"""Running the benchmark: the runner, the results store, devices, what a run needs (prefetch,
doctor)."""
