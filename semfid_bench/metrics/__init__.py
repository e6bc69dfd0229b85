"""Metric implementations. Plugins in ``semfid_bench.plugins`` register them by name."""
