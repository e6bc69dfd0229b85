"""Executors compute the cells the planner hands out and hand rows back to the driver
(:mod:`semfid_bench.execution.runner`), which alone writes the results database: in this process
(:mod:`~semfid_bench.execution.executors.local`) or on Ray actors across GPUs and nodes
(:mod:`~semfid_bench.execution.executors.ray_executor`)."""
