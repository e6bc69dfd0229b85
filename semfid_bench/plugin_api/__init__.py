"""What a plugin author imports: hooks, registrars, specs, runtime Protocols, errors,
options, and the services plugins run on (weights, seeds, feature cache)."""
