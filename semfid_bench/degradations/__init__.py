"""Degradation implementations (HR → LR). Plugins register them by name."""
