"""SpLiCE comparisons of GT and SR (Bhalla et al. 2024, as the study used them).

A CLIP image embedding z is decomposed into a sparse non-negative combination of concept
embeddings: the concept dictionary is the CLIP text embeddings of a vocabulary, each
L2-normalised, mean-centred and normalised again; the image side is
``normalise(normalise(z) − image_mean)``; the reconstruction is
``normalise(normalise(w·D) + image_mean)``. Scores are cosines of reconstructions:

- ``sym``: decompose the GT over the full vocabulary; decompose the SR over only the
  concepts the GT used. A GT with no active concept (a penalty too high for it) has no
  symmetric score: that item gets an error row naming the penalty, never a constant.
- ``nonsym``: decompose both over the full vocabulary.
- nouns (``splice-nouns``): either mode over the vocabulary restricted to nouns (entries
  WordNet lists as nouns).

Details per image: the top concepts of GT and SR and of the residuals GT − SR ("lost") and
SR − GT ("gained"), each decomposed over the full vocabulary. The study found those often
name what changed, though a score built from them was noisy.

The study searched the L1 penalty per image to hit a target number of concepts; here the
penalty is fixed (``l1_penalty``, SpLiCE's typical 0.25 ≈ 9 concepts), so a score does not
depend on a search's stopping point.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from semfid_bench.datasets.manifest import Item
from semfid_bench.metrics.clip_metrics import clip_image_features, gt_hashes
from semfid_bench.metrics.clip_model import DEFAULT_MODEL, DEFAULT_PRETRAINED, shared_clip_model
from semfid_bench.metrics.splice_solver import NonNegativeLasso
from semfid_bench.plugin_api.artefacts import Artefact, concept_changes_from
from semfid_bench.plugin_api.errors import SemfidError
from semfid_bench.plugin_api.feature_cache import FeatureCache
from semfid_bench.plugin_api.interfaces import Metric
from semfid_bench.plugin_api.reference_broadcast import broadcast_reference
from semfid_bench.plugin_api.weights import WeightFile, fetch_weights

SPLICE_COMMIT = "9a498102ce7c6701f4afe361ffaa86c39b47fa5f"  # files checked against it (sha256)
_SPLICE_DATA = f"https://raw.githubusercontent.com/AI4LIFE-GROUP/SpLiCE/{SPLICE_COMMIT}/data"
VOCABULARIES = {
    "laion": WeightFile(
        "splice-vocab-laion.txt",
        f"{_SPLICE_DATA}/vocab/laion.txt",
        "aee8e260477dcfbc873f939955ffd472969859054ed46e245bbe8b37d10b508c",
    ),
    "laion_bigrams": WeightFile(
        "splice-vocab-laion_bigrams.txt",
        f"{_SPLICE_DATA}/vocab/laion_bigrams.txt",
        "6561525228843aa8b0d2b27e731c8c2b18dac0e4bdda40761933b0aecda1e67a",
    ),
    "mscoco": WeightFile(
        "splice-vocab-mscoco.txt",
        f"{_SPLICE_DATA}/vocab/mscoco.txt",
        "ddd84fc591b2e49c1513cc3dcc199153df276a44686712e21a6efb7711e2d43b",
    ),
}


def _mean_file(stem: str, sha256: str) -> WeightFile:
    return WeightFile(f"splice-mean-{stem}.pt", f"{_SPLICE_DATA}/means/{stem}.pt", sha256)


_OPENAI_B32 = _mean_file(
    "clip_ViT-B-32_image", "dbd73aec9162cc26d3850c042b2a035720c1f6d38fc0b64a73518995f884202b"
)
_OPENAI_B16 = _mean_file(
    "clip_ViT-B-16_image", "2907555438ef16b4677cb72ad81b3c3fe8c9246028714e943dba6c3b91d67eee"
)
_OPENAI_RN50 = _mean_file(
    "clip_RN50_image", "e1ee3345ef6faf6f8ebc30f649189bf4e583fe71229b2955e227cf59124d42fa"
)
# SpLiCE's published mean image embeddings, by open_clip (model, pretrained tag).
IMAGE_MEANS = {
    ("ViT-B-32", "laion2b_s34b_b79k"): _mean_file(
        "open_clip_ViT-B-32_image",
        "6b91c6d0e9006e27dfb6f13e6d25a90c5ff24eb14e4ee60cf064a7ddf9f646b7",
    ),
    ("ViT-B-32", "openai"): _OPENAI_B32,
    ("ViT-B-32-quickgelu", "openai"): _OPENAI_B32,
    ("ViT-B-16", "openai"): _OPENAI_B16,
    ("ViT-B-16-quickgelu", "openai"): _OPENAI_B16,
    ("RN50", "openai"): _OPENAI_RN50,
    ("RN50-quickgelu", "openai"): _OPENAI_RN50,
}
WORDNET = WeightFile(
    "nltk-wordnet.zip",
    "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/wordnet.zip",
)
NO_MEAN = ("none", "zero")


def read_vocabulary(path: Path, size: int) -> list[str]:
    """Vocabulary lines (SpLiCE files run least → most frequent): the last ``size`` kept."""
    words = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    words = [word for word in words if word]
    return words[-size:] if size > 0 else words


def wordnet_nouns(path: Path) -> set[str]:
    """Nouns from WordNet's ``index.noun`` (in NLTK's wordnet.zip) or a one-per-line list."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("index.noun")), None)
            if name is None:
                raise SemfidError(f"{path} has no index.noun (expected NLTK's wordnet.zip).")
            lines = archive.read(name).decode("utf-8").splitlines()
        return {
            line.split(" ", 1)[0].replace("_", " ").lower()
            for line in lines
            if line and not line.startswith(" ")
        }
    return {line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines()}


def concept_dictionary(embeddings: torch.Tensor) -> torch.Tensor:
    """Text embeddings → SpLiCE dictionary: normalise, subtract the mean, normalise."""
    concepts = F.normalize(embeddings.float(), dim=1)
    return F.normalize(concepts - concepts.mean(dim=0), dim=1)


def _top(weights: torch.Tensor, words: Sequence[str], k: int) -> list[list]:
    values, indices = weights.topk(min(k, weights.numel()))
    return [[words[i], round(float(v), 4)] for v, i in zip(values, indices, strict=True) if v > 0]


class SpliceSimilarity(Metric):
    """Cosine of the SpLiCE reconstructions of GT and SR, symmetric or not."""

    def __init__(
        self,
        device: torch.device | None = None,
        model: str = DEFAULT_MODEL,
        pretrained: str | None = DEFAULT_PRETRAINED,
        mode: str = "sym",
        vocabulary: str = "laion",
        vocabulary_size: int = 10000,
        vocabulary_path: str | None = None,
        nouns: bool = False,
        nouns_path: str | None = None,
        image_mean: str | None = None,
        l1_penalty: float = 0.25,
        top_k: int = 5,
        option: str = "splice-sym",
    ) -> None:
        if mode not in ("sym", "nonsym"):
            raise SemfidError(f"SpLiCE mode {mode!r}: expected 'sym' or 'nonsym'.")
        if vocabulary not in VOCABULARIES and vocabulary_path is None:
            raise SemfidError(
                f"Unknown SpLiCE vocabulary {vocabulary!r}: {', '.join(VOCABULARIES)}, "
                f"or pass a file with --set {option}.vocabulary_path=PATH."
            )
        self.clip = shared_clip_model(model, pretrained, str(device or "cpu"), option)
        self.mode = mode
        self.vocabulary = vocabulary
        self.vocabulary_size = int(vocabulary_size)
        self.vocabulary_path = vocabulary_path
        self.nouns = bool(nouns)
        self.nouns_path = nouns_path
        self.image_mean_option = image_mean
        self.l1_penalty = float(l1_penalty)
        self.top_k = int(top_k)
        self.option = option
        self._state: dict[str, Any] | None = None

    # -- loading ---------------------------------------------------------------------------

    def _image_mean(self) -> torch.Tensor | None:
        choice = self.image_mean_option
        if choice is not None and str(choice).lower() in NO_MEAN:
            return None
        known = IMAGE_MEANS.get((self.clip.model_name, str(self.clip.pretrained)))
        if choice is None and known is None:
            raise SemfidError(
                f"SpLiCE publishes no mean image embedding for open_clip "
                f"{self.clip.model_name}/{self.clip.pretrained}.",
                hint=f"Pass a (dim,) tensor file with --set {self.option}.image_mean=PATH "
                f"(the mean CLIP embedding of a large image set), or "
                f"--set {self.option}.image_mean=none to decompose without centring.",
            )
        option = f"--set {self.option}.image_mean=PATH"
        path = fetch_weights(known, choice, option=option) if known else Path(str(choice))
        if not path.is_file():
            raise SemfidError(f"SpLiCE image mean {path} does not exist.")
        mean = torch.load(path, map_location="cpu", weights_only=True)
        return mean.float().reshape(-1)

    def _words(self) -> tuple[list[str], str]:
        option = f"--set {self.option}.vocabulary_path=PATH"
        if self.vocabulary_path is not None:
            path = Path(self.vocabulary_path).expanduser()
            if not path.is_file():
                raise SemfidError(f"SpLiCE vocabulary {path} does not exist.")
        else:
            path = fetch_weights(VOCABULARIES[self.vocabulary], None, option=option)
        words = read_vocabulary(path, self.vocabulary_size)
        identity = hashlib.sha256("\n".join(words).encode()).hexdigest()[:16]
        if self.nouns:
            nouns_option = f"--set {self.option}.nouns_path=PATH (NLTK wordnet.zip or a list)"
            nouns_file = fetch_weights(WORDNET, self.nouns_path, option=nouns_option)
            nouns = wordnet_nouns(nouns_file)
            words = [word for word in words if word.lower() in nouns]
            if not words:
                raise SemfidError(f"No vocabulary entry of {path} is a noun in {nouns_file}.")
            identity = hashlib.sha256("\n".join(words).encode()).hexdigest()[:16]
        return words, identity

    def _load(self) -> dict[str, Any]:
        if self._state is not None:
            return self._state
        words, identity = self._words()
        config = {**self.clip.config, "vocabulary": identity, "size": len(words)}
        dictionary_cache = FeatureCache("splice-dictionary", config)
        (embeddings,) = dictionary_cache.get_or_compute(
            [identity], lambda _: [self.clip.encode_texts(words)]
        )
        dictionary = concept_dictionary(embeddings)
        mean = self._image_mean()
        if mean is not None and mean.numel() != dictionary.shape[1]:
            raise SemfidError(
                f"SpLiCE image mean has {mean.numel()} values but {self.clip.model_name} "
                f"embeds in {dictionary.shape[1]} dimensions."
            )
        self._state = {
            "words": words,
            "dictionary": dictionary,
            "solver": NonNegativeLasso(dictionary),
            "mean": torch.zeros(dictionary.shape[1]) if mean is None else mean,
            "decompositions": FeatureCache(
                "splice-gt", {**config, "mean": self.image_mean_option, "l1": self.l1_penalty}
            ),
        }
        return self._state

    # -- decomposition ---------------------------------------------------------------------

    def _centred(self, embeddings: torch.Tensor) -> torch.Tensor:
        mean = self._load()["mean"]
        return F.normalize(F.normalize(embeddings, dim=-1) - mean, dim=-1)

    def _recompose(self, weights: torch.Tensor, dictionary: torch.Tensor) -> torch.Tensor:
        mean = self._load()["mean"]
        return F.normalize(F.normalize(weights @ dictionary, dim=-1) + mean, dim=-1)

    def decompose(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, D) CLIP embeddings → (B, concepts) sparse non-negative weights."""
        return self._load()["solver"].solve(self._centred(embeddings), self.l1_penalty)

    def reference(self, gt: torch.Tensor, items: Sequence[Item]) -> dict[str, Any]:
        state = self._load()
        embeddings, _ = clip_image_features(self.clip, gt, items)
        weights = state["decompositions"].get_or_compute(
            gt_hashes(gt, items), lambda idx: list(self.decompose(embeddings[idx]))
        )
        return {"embeddings": embeddings, "weights": torch.stack(weights)}

    def score(self, sr: torch.Tensor, reference: dict[str, Any]) -> torch.Tensor:
        return self.score_with_details(sr, reference)[0]

    def score_with_details(
        self, sr: torch.Tensor, reference: dict[str, Any]
    ) -> tuple[torch.Tensor, list[dict]]:
        reference = broadcast_reference(reference, len(sr))
        state = self._load()
        dictionary, solver = state["dictionary"], state["solver"]
        sr_embeddings = self.clip.encode_images(sr)
        gt_weights = reference["weights"]
        centred = self._centred(sr_embeddings)
        if self.mode == "sym":
            self._check_active(gt_weights)
            sr_weights = torch.zeros_like(gt_weights)
            for index in range(sr_embeddings.shape[0]):
                active = gt_weights[index].nonzero().flatten()
                sub = NonNegativeLasso(dictionary[active])
                sr_weights[index, active] = sub.solve(centred[index : index + 1], self.l1_penalty)[
                    0
                ]
        else:
            sr_weights = solver.solve(centred, self.l1_penalty)
        gt_recon = self._recompose(gt_weights, dictionary)
        scores = (gt_recon * self._recompose(sr_weights, dictionary)).sum(dim=-1)
        return scores, self._explain(gt_weights, sr_weights, reference["embeddings"], sr_embeddings)

    def _check_active(self, gt_weights: torch.Tensor) -> None:
        """The symmetric score needs GT concepts: with none, the SR would be decomposed over
        an empty set and the score would be the same constant whatever the SR."""
        empty = (gt_weights.count_nonzero(dim=1) == 0).nonzero().flatten().tolist()
        if empty:
            raise SemfidError(
                f"SpLiCE: the GT decomposition (l1_penalty {self.l1_penalty:g}) has no active "
                f"concept for image(s) {empty} of this batch; the symmetric score is undefined "
                "there (it would not depend on the SR).",
                hint=f"Lower --set {self.option}.l1_penalty, or use splice-nonsym.",
            )

    def _explain(self, gt_weights, sr_weights, gt_embeddings, sr_embeddings) -> list[dict]:
        """Top concepts of GT, SR and of both residuals (over the full vocabulary)."""
        state = self._load()
        difference = F.normalize(gt_embeddings, dim=-1) - F.normalize(sr_embeddings, dim=-1)
        residuals = F.normalize(torch.cat([difference, -difference]), dim=-1)
        lost, gained = state["solver"].solve(residuals, self.l1_penalty).chunk(2)
        words, k = state["words"], self.top_k
        return [
            {
                "gt_concepts": _top(gt_weights[i], words, k),
                "sr_concepts": _top(sr_weights[i], words, k),
                "lost": _top(lost[i], words, k),
                "gained": _top(gained[i], words, k),
            }
            for i in range(gt_weights.shape[0])
        ]

    @staticmethod
    def artefacts(details: dict[str, Any]) -> list[Artefact]:
        """The concepts the SR image lost and gained, and those of GT and SR."""
        return [concept_changes_from(details)]


def _factory(name: str, mode: str, nouns: bool):
    def make(**options: Any) -> SpliceSimilarity:
        options.setdefault("mode", mode)
        options.setdefault("nouns", nouns)
        return SpliceSimilarity(option=name, **options)

    make.__name__ = f"make_{name.replace('-', '_')}"
    make.artefacts = SpliceSimilarity.artefacts
    return make


make_splice_sym = _factory("splice-sym", "sym", False)
make_splice_nonsym = _factory("splice-nonsym", "nonsym", False)
make_splice_nouns = _factory("splice-nouns", "sym", True)
