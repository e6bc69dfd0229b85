"""Captioner implementations (images → text), referenced by plugin factory strings."""
