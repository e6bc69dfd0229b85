"""Seeded SpLiCE inputs shared by scripts/parity/splice_decomposition.py and its test."""

from __future__ import annotations

import torch

SEED, CONCEPTS, IMAGES, L1 = 3, 400, 4, 0.25


def seeded_inputs(mean: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw concept 'text embeddings' (CONCEPTS, d) with a shared offset, as CLIP text
    embeddings have, and image embeddings (IMAGES, d): the image mean plus a few positive
    concepts (after centring, as SpLiCE models images) plus noise."""
    generator = torch.Generator().manual_seed(SEED)
    d = mean.numel()
    offset = torch.randn(d, generator=generator)
    concepts = torch.randn(CONCEPTS, d, generator=generator) + 2.0 * offset
    centred = torch.nn.functional.normalize(concepts, dim=1)
    centred = torch.nn.functional.normalize(centred - centred.mean(dim=0), dim=1)
    mix = (torch.rand(IMAGES, CONCEPTS, generator=generator) > 0.98).float()
    mix = mix * (0.5 + torch.rand(IMAGES, CONCEPTS, generator=generator))
    content = torch.nn.functional.normalize(mix @ centred, dim=1)
    noise = torch.randn(IMAGES, d, generator=generator) / d**0.5
    images = mean + 0.5 * mean.norm() * (content + 0.3 * noise)
    return concepts, images
