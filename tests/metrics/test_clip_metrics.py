"""CLIP intra-modal, C2I and SpLiCE end to end on the sample photographs, tiny random CLIP."""

import pytest
import torch

from semfid_bench.errors import SemfidError, WeightsUnavailableError
from semfid_bench.manifest import Item
from semfid_bench.metrics.clip_metrics import CaptionToImage, ClipSimilarity
from semfid_bench.metrics.clip_model import ClipModel
from semfid_bench.metrics.splice import SpliceSimilarity, concept_dictionary, wordnet_nouns

WORDS = ["cat", "dog", "astronaut", "coffee", "rocket", "flag", "red", "running", "smoke", "sky"]


def _items(n, captions=None):
    captions = captions or [None] * n
    return [Item(id=str(i), gt=f"{i}.png", caption=captions[i]) for i in range(n)]


def test_clip_similarity_is_one_for_identical_and_lower_for_other_images(tiny_clip, sample_images):
    metric = ClipSimilarity(model=tiny_clip, pretrained="none")
    reference = metric.reference(sample_images, _items(4))
    same = metric.score(sample_images, reference)
    torch.testing.assert_close(same, torch.ones(4), atol=1e-5, rtol=0)
    other = metric.score(sample_images.roll(1, dims=0), reference)
    assert (other < 1 - 1e-4).all()


def test_random_init_is_deterministic(tiny_clip, sample_images):
    first = ClipModel(tiny_clip, "none").encode_images(sample_images[:2])
    second = ClipModel(tiny_clip, "none").encode_images(sample_images[:2])
    torch.testing.assert_close(first, second)


def test_c2i_uses_manifest_captions(tiny_clip, sample_images):
    captions = ["an astronaut", "a cat", "a cup of coffee", "a rocket"]
    metric = CaptionToImage(model=tiny_clip, pretrained="none")
    reference = metric.reference(sample_images, _items(4, captions))
    scores, details = metric.score_with_details(sample_images, reference)
    expected = (metric.clip.encode_images(sample_images) * metric.clip.encode_texts(captions)).sum(
        -1
    )
    torch.testing.assert_close(scores, expected)
    assert [d["gt_caption"] for d in details] == captions


def test_missing_open_clip_weights_offline_names_them(tiny_clip):
    clip = ClipModel("ViT-B-32", "laion2b_s34b_b79k")
    with pytest.raises(WeightsUnavailableError) as info:
        clip.encode_texts(["a cat"])
    assert "laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in info.value.message
    assert "clip.pretrained=PATH" in info.value.hint


def test_quickgelu_weights_with_gelu_model_are_refused():
    with pytest.raises(SemfidError, match="QuickGELU"):
        ClipModel("ViT-B-32", "laion400m_e32").encode_texts(["a cat"])


def _splice(tiny_clip, tmp_path, **options):
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("\n".join(WORDS) + "\n")
    return SpliceSimilarity(
        model=tiny_clip,
        pretrained="none",
        vocabulary_path=str(vocabulary),
        image_mean="none",
        l1_penalty=0.05,
        **options,
    )


@pytest.mark.parametrize("mode", ["sym", "nonsym"])
def test_splice_scores_and_explains(tiny_clip, sample_images, tmp_path, mode):
    metric = _splice(tiny_clip, tmp_path, mode=mode)
    reference = metric.reference(sample_images, _items(4))
    assert (reference["weights"] >= 0).all() and (reference["weights"] > 0).any()
    same, _ = metric.score_with_details(sample_images, reference)
    torch.testing.assert_close(same, torch.ones(4), atol=1e-4, rtol=0)
    scores, details = metric.score_with_details(sample_images.roll(1, dims=0), reference)
    assert (scores < 1).all() and (scores >= -1).all()
    for detail in details:
        assert set(detail) == {"gt_concepts", "sr_concepts", "lost", "gained"}
        assert detail["lost"] and detail["gained"]
        assert all(word in WORDS and weight > 0 for word, weight in detail["lost"])
    if mode == "sym":  # the SR may only use concepts the GT used
        for index, detail in enumerate(details):
            gt_words = {WORDS[i] for i in reference["weights"][index].nonzero().flatten()}
            assert {word for word, _ in detail["sr_concepts"]} <= gt_words


def test_splice_nouns_restricts_the_vocabulary(tiny_clip, sample_images, tmp_path):
    nouns = tmp_path / "nouns.txt"
    nouns.write_text("cat\ndog\nastronaut\nrocket\nsmoke\nsky\nflag\ncoffee\n")
    metric = _splice(tiny_clip, tmp_path, nouns=True, nouns_path=str(nouns))
    reference = metric.reference(sample_images, _items(4))
    assert "red" not in metric._load()["words"] and "running" not in metric._load()["words"]
    assert len(metric._load()["words"]) == 8
    metric.score(sample_images, reference)


def test_wordnet_index_parsing(tmp_path):
    import zipfile

    archive = tmp_path / "wordnet.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("wordnet/index.noun", "  1 license line\ncat n 8 2 ...\nhot_dog n 2 ...\n")
    assert wordnet_nouns(archive) == {"cat", "hot dog"}


def test_concept_dictionary_is_centred_and_normalised():
    embeddings = torch.randn(50, 16) + 3.0
    dictionary = concept_dictionary(embeddings)
    torch.testing.assert_close(dictionary.norm(dim=1), torch.ones(50))
    assert (
        dictionary.mean(dim=0).norm()
        < 0.2 * torch.nn.functional.normalize(embeddings).mean(0).norm()
    )


def test_splice_without_published_mean_asks_for_one(tiny_clip, tmp_path, sample_images):
    metric = _splice(tiny_clip, tmp_path)
    metric.image_mean_option = None
    with pytest.raises(SemfidError, match="image_mean"):
        metric.reference(sample_images[:1], _items(1))


def test_splice_vocabulary_offline_error_names_url(tiny_clip):
    metric = SpliceSimilarity(model=tiny_clip, pretrained="none", image_mean="none")
    with pytest.raises(WeightsUnavailableError) as info:
        metric._load()
    assert "splice-vocab-laion.txt" in info.value.message
    assert "AI4LIFE-GROUP/SpLiCE/main/data/vocab/laion.txt" in info.value.hint


@pytest.mark.parametrize("model", ["ViT-B-32", "RN50"])
def test_openai_weights_with_gelu_model_are_refused_quickgelu(model):
    """open_clip only warns for `ViT-B-32` + `openai` and builds a GELU model."""
    with pytest.raises(SemfidError, match="QuickGELU") as info:
        ClipModel(model, "openai").encode_texts(["a cat"])
    assert f"{model}-quickgelu" in info.value.hint
