"""Key names and shapes of StableSR's CompVis checkpoints, written from the authors' code.

Source: IceClear/StableSR at commit 398ee93 — ``ldm/modules/diffusionmodules/openaimodel.py``
(``UNetModelDualcondV2``, ``ResBlockDual``, ``EncoderUNetModelWT``), ``ldm/modules/spade.py``
(``SPADE``, hidden width 128), ``ldm/modules/attention.py`` (``SpatialTransformerV2`` with
``use_linear``, ``BasicTransformerBlockV2``), ``ldm/modules/diffusionmodules/model.py``
(``Encoder``, ``Decoder_Mix``, ``Fuse_sft_block_RRDB``, ``ResBlock``), and open_clip's text
tower (``token_embedding``, ``transformer.resblocks.N.{ln_1,attn,ln_2,mlp}``, ``ln_final``).
Each function lists what the authors' modules register for a given size, so a test can build
a synthetic checkpoint in their layout at a tiny size and the real one on the meta device.
"""

from __future__ import annotations

Shapes = dict[str, tuple[int, ...]]


def _conv(out: Shapes, name: str, cin: int, cout: int, k: int = 3) -> None:
    out[f"{name}.weight"] = (cout, cin, k, k)
    out[f"{name}.bias"] = (cout,)


def _norm(out: Shapes, name: str, c: int) -> None:
    out[f"{name}.weight"] = (c,)
    out[f"{name}.bias"] = (c,)


def _linear(out: Shapes, name: str, cin: int, cout: int, bias: bool = True) -> None:
    out[f"{name}.weight"] = (cout, cin)
    if bias:
        out[f"{name}.bias"] = (cout,)


def _resblock(out: Shapes, name: str, cin: int, cout: int, emb: int, semb: int | None) -> None:
    """``ResBlock`` / ``ResBlockDual`` (with SPADE when ``semb``)."""
    _norm(out, f"{name}.in_layers.0", cin)
    _conv(out, f"{name}.in_layers.2", cin, cout)
    _linear(out, f"{name}.emb_layers.1", emb, cout)
    _norm(out, f"{name}.out_layers.0", cout)
    _conv(out, f"{name}.out_layers.3", cout, cout)
    if cin != cout:
        _conv(out, f"{name}.skip_connection", cin, cout, 1)
    if semb:
        _norm(out, f"{name}.spade.param_free_norm", cout)
        _conv(out, f"{name}.spade.mlp_shared.0", semb, 128)
        _conv(out, f"{name}.spade.mlp_gamma", 128, cout)
        _conv(out, f"{name}.spade.mlp_beta", 128, cout)


def _transformer(out: Shapes, name: str, c: int, context: int) -> None:
    _norm(out, f"{name}.norm", c)
    _linear(out, f"{name}.proj_in", c, c)
    block = f"{name}.transformer_blocks.0"
    for attn, kv in (("attn1", c), ("attn2", context)):
        _linear(out, f"{block}.{attn}.to_q", c, c, bias=False)
        _linear(out, f"{block}.{attn}.to_k", kv, c, bias=False)
        _linear(out, f"{block}.{attn}.to_v", kv, c, bias=False)
        _linear(out, f"{block}.{attn}.to_out.0", c, c)
    _linear(out, f"{block}.ff.net.0.proj", c, 8 * c)
    _linear(out, f"{block}.ff.net.2", 4 * c, c)
    for n in (1, 2, 3):
        _norm(out, f"{block}.norm{n}", c)
    _linear(out, f"{name}.proj_out", c, c)


def unet_shapes(
    model_channels: int = 320,
    channel_mult: tuple[int, ...] = (1, 2, 4, 4),
    num_res_blocks: int = 2,
    attention_levels: tuple[int, ...] = (0, 1, 2),
    context_dim: int = 1024,
    semb_channels: int = 256,
    in_channels: int = 4,
) -> Shapes:
    """``UNetModelDualcondV2`` (``model.diffusion_model.*`` without the prefix)."""
    out: Shapes = {}
    c, emb = model_channels, 4 * model_channels
    _linear(out, "time_embed.0", c, emb)
    _linear(out, "time_embed.2", emb, emb)
    _conv(out, "input_blocks.0.0", in_channels, c)
    skips, ch, i = [c], c, 1
    for level, mult in enumerate(channel_mult):
        for _ in range(num_res_blocks):
            _resblock(out, f"input_blocks.{i}.0", ch, mult * c, emb, semb_channels)
            ch = mult * c
            if level in attention_levels:
                _transformer(out, f"input_blocks.{i}.1", ch, context_dim)
            skips.append(ch)
            i += 1
        if level != len(channel_mult) - 1:
            _conv(out, f"input_blocks.{i}.0.op", ch, ch)
            skips.append(ch)
            i += 1
    _resblock(out, "middle_block.0", ch, ch, emb, semb_channels)
    _transformer(out, "middle_block.1", ch, context_dim)
    _resblock(out, "middle_block.2", ch, ch, emb, semb_channels)
    i = 0
    for level, mult in reversed(list(enumerate(channel_mult))):
        for j in range(num_res_blocks + 1):
            _resblock(out, f"output_blocks.{i}.0", ch + skips.pop(), mult * c, emb, semb_channels)
            ch = mult * c
            layer = 1
            if level in attention_levels:
                _transformer(out, f"output_blocks.{i}.1", ch, context_dim)
                layer = 2
            if level and j == num_res_blocks:
                _conv(out, f"output_blocks.{i}.{layer}.conv", ch, ch)
            i += 1
    _norm(out, "out.0", c)
    _conv(out, "out.2", c, in_channels)
    return out


def encoder_shapes(
    model_channels: int = 256,
    channel_mult: tuple[int, ...] = (1, 1, 2, 2),
    num_res_blocks: int = 2,
    attention_levels: tuple[int, ...] = (0, 1, 2),
    out_channels: int = 256,
    in_channels: int = 4,
) -> Shapes:
    """``EncoderUNetModelWT`` (``structcond_stage_model.*`` without the prefix)."""
    out: Shapes = {}
    c, emb = model_channels, 4 * model_channels
    _linear(out, "time_embed.0", c, emb)
    _linear(out, "time_embed.2", emb, emb)
    _conv(out, "input_blocks.0.0", in_channels, c)
    features, ch, i = [], c, 1
    for level, mult in enumerate(channel_mult):
        for _ in range(num_res_blocks):
            _resblock(out, f"input_blocks.{i}.0", ch, mult * c, emb, None)
            ch = mult * c
            if level in attention_levels:
                _attention(out, f"input_blocks.{i}.1", ch)
            i += 1
        if level != len(channel_mult) - 1:
            _conv(out, f"input_blocks.{i}.0.op", ch, ch)
            features.append(ch)
            i += 1
    _resblock(out, "middle_block.0", ch, ch, emb, None)
    _attention(out, "middle_block.1", ch)
    _resblock(out, "middle_block.2", ch, ch, emb, None)
    features.append(ch)
    for n, f in enumerate(features):
        _resblock(out, f"fea_tran.{n}", f, out_channels, emb, None)
    return out


def _attention(out: Shapes, name: str, c: int) -> None:
    _norm(out, f"{name}.norm", c)
    out[f"{name}.qkv.weight"], out[f"{name}.qkv.bias"] = (3 * c, c, 1), (3 * c,)
    out[f"{name}.proj_out.weight"], out[f"{name}.proj_out.bias"] = (c, c, 1), (c,)


def _vae_resnet(out: Shapes, name: str, cin: int, cout: int) -> None:
    _norm(out, f"{name}.norm1", cin)
    _conv(out, f"{name}.conv1", cin, cout)
    _norm(out, f"{name}.norm2", cout)
    _conv(out, f"{name}.conv2", cout, cout)
    if cin != cout:
        _conv(out, f"{name}.nin_shortcut", cin, cout, 1)


def _vae_mid(out: Shapes, name: str, c: int) -> None:
    _vae_resnet(out, f"{name}.block_1", c, c)
    _norm(out, f"{name}.attn_1.norm", c)
    for proj in ("q", "k", "v", "proj_out"):
        _conv(out, f"{name}.attn_1.{proj}", c, c, 1)
    _vae_resnet(out, f"{name}.block_2", c, c)


def _fuse_resblock(out: Shapes, name: str, cin: int, cout: int) -> None:
    _norm(out, f"{name}.norm1", cin)
    _conv(out, f"{name}.conv1", cin, cout)
    _norm(out, f"{name}.norm2", cout)
    _conv(out, f"{name}.conv2", cout, cout)
    if cin != cout:
        _conv(out, f"{name}.conv_out", cin, cout, 1)


def vae_shapes(
    ch: int = 128,
    ch_mult: tuple[int, ...] = (1, 2, 4, 4),
    num_res_blocks: int = 2,
    z_channels: int = 4,
    fusion: bool = False,
) -> Shapes:
    """``Encoder`` + ``Decoder`` (or ``Decoder_Mix`` with ``fusion``) + quant convs."""
    out: Shapes = {}
    _conv(out, "encoder.conv_in", 3, ch)
    block_in = ch
    for level, mult in enumerate(ch_mult):
        for b in range(num_res_blocks):
            _vae_resnet(out, f"encoder.down.{level}.block.{b}", block_in, ch * mult)
            block_in = ch * mult
        if level != len(ch_mult) - 1:
            _conv(out, f"encoder.down.{level}.downsample.conv", block_in, block_in)
    _vae_mid(out, "encoder.mid", block_in)
    _norm(out, "encoder.norm_out", block_in)
    _conv(out, "encoder.conv_out", block_in, 2 * z_channels)
    _conv(out, "quant_conv", 2 * z_channels, 2 * z_channels, 1)
    _conv(out, "post_quant_conv", z_channels, z_channels, 1)
    block_in = ch * ch_mult[-1]
    _conv(out, "decoder.conv_in", z_channels, block_in)
    _vae_mid(out, "decoder.mid", block_in)
    for level in reversed(range(len(ch_mult))):
        block_out = ch * ch_mult[level]
        if fusion and 0 < level < len(ch_mult) - 1:
            name = f"decoder.fusion_layer_{level}"
            _fuse_resblock(out, f"{name}.encode_enc_1", 2 * block_out, block_out)
            for r in range(2):
                for d in (1, 2, 3):
                    for k in range(1, 6):
                        cin = block_out + (k - 1) * 32
                        cout = block_out if k == 5 else 32
                        _conv(out, f"{name}.encode_enc_2.{r}.rdb{d}.conv{k}", cin, cout)
            _fuse_resblock(out, f"{name}.encode_enc_3", block_out, block_out)
        for b in range(num_res_blocks + 1):
            _vae_resnet(out, f"decoder.up.{level}.block.{b}", block_in, block_out)
            block_in = block_out
        if level:
            _conv(out, f"decoder.up.{level}.upsample.conv", block_in, block_in)
    _norm(out, "decoder.norm_out", block_in)
    _conv(out, "decoder.conv_out", block_in, 3)
    return out


def open_clip_text_shapes(
    width: int = 1024, layers: int = 24, vocab: int = 49408, context: int = 77, proj: int = 1024
) -> Shapes:
    """open_clip's text tower (``cond_stage_model.model.*`` without the prefix)."""
    out: Shapes = {
        "token_embedding.weight": (vocab, width),
        "positional_embedding": (context, width),
        "text_projection": (width, proj),
        "logit_scale": (),
    }
    for n in range(layers):
        name = f"transformer.resblocks.{n}"
        _norm(out, f"{name}.ln_1", width)
        out[f"{name}.attn.in_proj_weight"] = (3 * width, width)
        out[f"{name}.attn.in_proj_bias"] = (3 * width,)
        _linear(out, f"{name}.attn.out_proj", width, width)
        _norm(out, f"{name}.ln_2", width)
        _linear(out, f"{name}.mlp.c_fc", width, 4 * width)
        _linear(out, f"{name}.mlp.c_proj", 4 * width, width)
    _norm(out, "ln_final", width)
    return out
