"""CLI commands, one module each, registered in :mod:`semfid_bench.cli`."""
