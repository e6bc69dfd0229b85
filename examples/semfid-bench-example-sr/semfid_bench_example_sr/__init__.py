"""An example semfid-bench plugin package: one SR model, registered through an entry point."""
