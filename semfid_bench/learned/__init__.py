"""Learned semantic metrics: the regressor and CLU on ResNet-50 stage differences."""
