"""SR model implementations. Plugins register them by name."""
