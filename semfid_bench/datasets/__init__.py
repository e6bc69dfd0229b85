"""Datasets: the manifest format and the image decoding policy."""
