"""RAM (Recognize Anything, Zhang et al. 2023) as SeeSR's DAPE uses it: the image encoder and
the Query2Label tagging head, built from timm and transformers classes.

The authors' ``RAMLora`` (cswry/SeeSR ``ram/models/ram_lora.py``, after
xinyu1205/recognize-anything ``ram/models/ram.py``) is a Swin-L (timm's ``SwinTransformer``
here) whose tokens, with their mean as a leading [CLS] token, are projected to 512-d by
``image_proj``. The tagging head is a 2-layer BERT without embeddings or self-attention: the
~4585 learned tag embeddings (``label_embed``, through ``wordvec_proj`` and a ReLU) are the
queries that cross-attend to the image embeddings, and ``fc`` gives one logit per tag. Module
names follow the authors' checkpoint after :mod:`~semfid_bench.vision_language.ram_weights` moves
Swin's ``downsample`` layers to timm's place. RAM's captioning parts (``tag_encoder``,
``text_decoder``) are not needed for tags and are not built.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class RAMConfig:
    """RAM's hyper-parameters; the defaults are RAM Swin-L at 384 px (the authors'
    ``configs/swin/config_swinL_384.json`` and ``configs/q2l_config.json``)."""

    image_size: int = 384
    swin_embed_dim: int = 192
    swin_depths: tuple[int, ...] = (2, 2, 18, 2)
    swin_heads: tuple[int, ...] = (6, 12, 24, 48)
    window_size: int = 12
    embed_dim: int = 512
    head_hidden: int = 768
    head_heads: int = 4
    head_layers: int = 2
    head_intermediate: int = 3072
    num_tags: int = 4585

    @classmethod
    def from_dict(cls, values: dict) -> RAMConfig:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown RAM config keys: {', '.join(sorted(unknown))}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**values)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def vision_width(self) -> int:
        return self.swin_embed_dim * 2 ** (len(self.swin_depths) - 1)


def _bert_config(config: RAMConfig):
    from transformers import BertConfig

    return BertConfig(
        hidden_size=config.head_hidden,
        num_attention_heads=config.head_heads,
        num_hidden_layers=config.head_layers,
        intermediate_size=config.head_intermediate,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
    )


class TagCrossAttentionCore(nn.Module):
    """BERT cross-attention (queries: tags, keys/values: image embeddings of another width)."""

    def __init__(self, hidden: int, heads: int, encoder_width: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(encoder_width, hidden)
        self.value = nn.Linear(encoder_width, hidden)

    def forward(self, queries: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        def split(x: torch.Tensor) -> torch.Tensor:
            return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

        q, k, v = (
            split(self.query(queries)),
            split(self.key(image_embeds)),
            split(self.value(image_embeds)),
        )
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)


class TagCrossAttention(nn.Module):
    """``crossattention``: the attention core (``self``) and BERT's residual output."""

    def __init__(self, bert_config, encoder_width: int) -> None:
        from transformers.models.bert.modeling_bert import BertSelfOutput

        super().__init__()
        self.self = TagCrossAttentionCore(
            bert_config.hidden_size, bert_config.num_attention_heads, encoder_width
        )
        self.output = BertSelfOutput(bert_config)

    def forward(self, queries: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(queries, image_embeds), queries)


class TaggingLayer(nn.Module):
    """One Query2Label layer: cross-attention then BERT's feed-forward (no self-attention,
    as the authors delete it)."""

    def __init__(self, bert_config, encoder_width: int) -> None:
        from transformers.models.bert.modeling_bert import BertIntermediate, BertOutput

        super().__init__()
        self.crossattention = TagCrossAttention(bert_config, encoder_width)
        self.intermediate = BertIntermediate(bert_config)
        self.output = BertOutput(bert_config)

    def forward(self, queries: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        attended = self.crossattention(queries, image_embeds)
        return self.output(self.intermediate(attended), attended)


class TaggingEncoder(nn.Module):
    def __init__(self, config: RAMConfig) -> None:
        super().__init__()
        bert = _bert_config(config)
        self.layer = nn.ModuleList(
            TaggingLayer(bert, config.embed_dim) for _ in range(config.head_layers)
        )


class TaggingHead(nn.Module):
    """``tagging_head``: the BERT encoder without embeddings, in tagging mode."""

    def __init__(self, config: RAMConfig) -> None:
        super().__init__()
        self.encoder = TaggingEncoder(config)

    def forward(self, queries: torch.Tensor, image_embeds: torch.Tensor) -> torch.Tensor:
        for layer in self.encoder.layer:
            queries = layer(queries, image_embeds)
        return queries


class RAM(nn.Module):
    """RAM's image encoder and tagging head (inference only)."""

    def __init__(self, config: RAMConfig = RAMConfig()) -> None:
        from timm.models.swin_transformer import SwinTransformer

        super().__init__()
        self.config = config
        self.visual_encoder = SwinTransformer(
            img_size=config.image_size,
            patch_size=4,
            embed_dim=config.swin_embed_dim,
            depths=config.swin_depths,
            num_heads=config.swin_heads,
            window_size=config.window_size,
            num_classes=0,
            drop_path_rate=0.0,
        )
        self.image_proj = nn.Linear(config.vision_width, config.embed_dim)
        self.label_embed = nn.Parameter(torch.zeros(config.num_tags, config.embed_dim))
        # the authors use an identity when the widths agree (no keys then)
        self.wordvec_proj = (
            nn.Identity()
            if config.head_hidden == config.embed_dim
            else nn.Linear(config.embed_dim, config.head_hidden)
        )
        self.tagging_head = TaggingHead(config)
        self.fc = nn.Linear(config.head_hidden, 1)

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1 + tokens, embed_dim): projected Swin tokens after their mean, for normalised
        images of ``image_size`` (the authors' ``generate_image_embeds``)."""
        tokens = self.visual_encoder.forward_features(images).flatten(1, 2)
        return self.image_proj(torch.cat([tokens.mean(1, keepdim=True), tokens], dim=1))

    def tag_logits(self, image_embeds: torch.Tensor) -> torch.Tensor:
        """(B, num_tags) logits of the tagging head for :meth:`image_embeddings`."""
        queries = F.relu(self.wordvec_proj(self.label_embed))
        queries = queries.unsqueeze(0).expand(image_embeds.shape[0], -1, -1)
        return self.fc(self.tagging_head(queries, image_embeds)).squeeze(-1)
