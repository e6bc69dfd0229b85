"""Captioners and taggers (VLM, CoCa, RAM/DAPE), and the captions metrics use."""
