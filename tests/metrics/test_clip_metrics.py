"""CLIP intra-modal, C2I and SpLiCE end to end on the sample photographs, tiny random CLIP."""

import pytest
import torch

from semfid_bench.datasets.manifest import Item
from semfid_bench.metrics.clip_metrics import CaptionToImage, ClipSimilarity
from semfid_bench.metrics.clip_model import ClipModel
from semfid_bench.metrics.splice import SpliceSimilarity, concept_dictionary, wordnet_nouns
from semfid_bench.plugin_api.errors import SemfidError, WeightsUnavailableError

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
    assert "AI4LIFE-GROUP/SpLiCE/9a498102ce7c6701f4afe361ffaa86c39b47fa5f/data/vocab/laion.txt" in (
        info.value.hint
    )


@pytest.mark.parametrize("model", ["ViT-B-32", "RN50"])
def test_openai_weights_with_gelu_model_are_refused_quickgelu(model):
    """open_clip only warns for `ViT-B-32` + `openai` and builds a GELU model."""
    with pytest.raises(SemfidError, match="QuickGELU") as info:
        ClipModel(model, "openai").encode_texts(["a cat"])
    assert f"{model}-quickgelu" in info.value.hint


@pytest.fixture(scope="module")
def clip_224(tmp_path_factory):
    """A tiny open_clip model with the real 224-px input and default preprocessing, and
    open_clip's own eval transform for it."""
    import json

    import open_clip

    from tests.metrics.conftest import _CONFIG

    config = {
        **_CONFIG,
        "vision_cfg": {**_CONFIG["vision_cfg"], "image_size": 224, "patch_size": 32},
    }
    path = tmp_path_factory.mktemp("clip224") / "semfid-tiny-clip-224.json"
    path.write_text(json.dumps(config))
    open_clip.add_model_config(path)
    _, _, transform = open_clip.create_model_and_transforms("semfid-tiny-clip-224", pretrained=None)
    return ClipModel("semfid-tiny-clip-224", "none"), transform


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("astronaut", (301, 417)),
        ("chelsea", (300, 451)),
        ("coffee", (157, 233)),
        ("rocket", (223, 225)),
    ],
)
def test_preprocessing_matches_open_clip_transform(clip_224, name, size):
    """Pixels equal open_clip's own eval transform on a PIL image of the quantised tensor
    (odd sizes: the resized side's rounding and the centre crop's offset)."""
    import numpy as np
    import skimage.data
    from PIL import Image

    from semfid_bench.datasets.images import to_tensor

    clip, transform = clip_224
    photo = getattr(skimage.data, name)()[: size[0], : size[1]]
    tensor = to_tensor(np.ascontiguousarray(photo))
    tensor = tensor + 0.3 / 255 * torch.randn(
        tensor.shape, generator=torch.Generator().manual_seed(0)
    )
    quantised = tensor.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
    expected = transform(Image.fromarray(quantised))[None]
    torch.testing.assert_close(clip._preprocess(tensor[None]), expected, atol=0, rtol=0)


def test_clip_weights_load_once_across_metrics(tiny_clip, tmp_path, monkeypatch, sample_images):
    import open_clip

    from semfid_bench.metrics.clip_model import clear_shared_clip_models

    clear_shared_clip_models()
    loads = []
    create = open_clip.create_model
    monkeypatch.setattr(
        open_clip, "create_model", lambda *a, **k: loads.append(a) or create(*a, **k)
    )
    clip = ClipSimilarity(model=tiny_clip, pretrained="none")
    c2i = CaptionToImage(model=tiny_clip, pretrained="none")
    splice = _splice(tiny_clip, tmp_path, mode="nonsym")
    items = _items(2, ["a cat", "a rocket"])
    clip.score(sample_images[:2], clip.reference(sample_images[:2], items))
    c2i.score(sample_images[:2], c2i.reference(sample_images[:2], items))
    splice.score(sample_images[:2], splice.reference(sample_images[:2], items))
    assert len(loads) == 1
    assert clip.clip is c2i.clip is splice.clip
    clear_shared_clip_models()


def test_c2i_records_caption_truncation_at_clip_context(tiny_clip, sample_images):
    short = "an astronaut"
    long = " ".join(["a red rocket on a launch pad"] * 20)  # well over 77 tokens
    metric = CaptionToImage(model=tiny_clip, pretrained="none")
    reference = metric.reference(sample_images[:2], _items(2, [short, long]))
    _, details = metric.score_with_details(sample_images[:2], reference)
    assert metric.clip.context_length == 77
    assert details[0]["caption_tokens"] == 4 and details[0]["caption_truncated"] is False
    assert details[1]["caption_tokens"] == 20 * 7 + 2 and details[1]["caption_truncated"] is True
    # what CLIP reads of the long caption is its first 77 tokens
    cut = metric.clip.encode_texts([" ".join(long.split()[:75])])
    torch.testing.assert_close(reference["text"][1:], cut)


def test_splice_sym_refuses_gt_without_active_concept(tiny_clip, sample_images, tmp_path):
    """With no GT concept the symmetric score would be constant whatever the SR."""
    metric = _splice(tiny_clip, tmp_path, mode="sym")
    metric.l1_penalty = 50.0
    reference = metric.reference(sample_images[:2], _items(2))
    assert (reference["weights"] == 0).all()
    with pytest.raises(SemfidError, match="no active concept") as info:
        metric.score_with_details(sample_images[:2].roll(1, dims=0), reference)
    assert "splice-sym.l1_penalty" in info.value.hint
    nonsym = _splice(tiny_clip, tmp_path, mode="nonsym")
    nonsym.l1_penalty = 50.0
    nonsym.score(sample_images[:2], nonsym.reference(sample_images[:2], _items(2)))
