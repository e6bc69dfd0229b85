"""Diffusion SR models (SD x4, SeeSR, PASD, StableSR) and the pieces they share."""
