"""Sub-pixel translation between two images, as opensr-test measures and removes it.

opensr-test (ESA OpenSR, ``opensr_test.spatial``) delegates to satalign's ``PCC``: the
images are reduced to their channel mean, scikit-image's ``phase_cross_correlation``
(``upsample_factor=50``) estimates the shift that registers the moving image with the
reference, and OpenCV's ``warpAffine`` (bilinear, replicated border) applies it. A shift
whose length exceeds ``max_translation`` is treated as a failed estimate: nothing is moved.
"""

from __future__ import annotations

import numpy as np

UPSAMPLE_FACTOR = 50


def estimate_shift(reference: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """(dy, dx) in pixels that moves ``moving`` onto ``reference``; both (C, H, W)."""
    from skimage.registration import phase_cross_correlation

    shift, _error, _phase = phase_cross_correlation(
        reference_image=reference.mean(0),
        moving_image=moving.mean(0),
        upsample_factor=UPSAMPLE_FACTOR,
        space="real",
        disambiguate=False,
    )
    return np.asarray(shift, dtype=np.float64)


def translate(image: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``image`` (C, H, W) moved by ``shift`` = (dy, dx): bilinear, border replicated,
    float32 arithmetic (satalign's ``warp_feature``), returned in the input's dtype."""
    import cv2

    matrix = np.eye(2, 3, dtype=np.float32)
    matrix[:, 2] = shift[::-1]
    height, width = image.shape[-2:]
    planes = [
        cv2.warpAffine(
            plane.astype(np.float32),
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR + cv2.WARP_FILL_OUTLIERS,
            borderMode=cv2.BORDER_REPLICATE,
        )
        for plane in image
    ]
    return np.stack(planes).astype(image.dtype)


def align(image: np.ndarray, reference: np.ndarray, max_translation: float) -> np.ndarray:
    """``image`` registered onto ``reference`` (unchanged when the shift is implausible)."""
    shift = estimate_shift(reference, image)
    if np.linalg.norm(shift.astype(np.float32)) > max_translation:
        return image
    return translate(image, shift)
