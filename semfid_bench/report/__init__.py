"""Reports built once from the results store: the report model and its renderers."""
