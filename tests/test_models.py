"""VideoClassifier and presets: paper parameter counts, inputs, sampling, circulant ↔ dense, I/O."""

from __future__ import annotations

import io

import pytest
import torch
from conftest import TOL
from torch import nn

from circlearn.data.frames import gather_frames, prepare_frames, sample_frame_indices
from circlearn.models import PRESETS, ModelConfig, VideoClassifier, count_parameters, from_preset
from circlearn.nn.circulant import CirculantLinear

F32, F64 = TOL[torch.float32], TOL[torch.float64]

# README.md §4 (derivation: paper.md §4.2); the two video-level baselines by hand:
# logistic 1152·3862 + 3862; moe (M = 2) 1152·3862·3 + 1152·7724 + 7724.
PAPER_COUNTS = {
    "dbof": 65_761_384,
    "dbof-fc-circulant": 59_494_504,
    "dbof-fc-circulant-sign": 59_482_216,
    "netvlad": 86_323_496,
    "netvlad-fc-circulant": 50_811_176,
    "netfv": 122_044_712,
    "netfv-fc-circulant": 51_020_072,
    "dbof-video": 45_334_632,
    "dbof-video-embedding-circulant": 36_962_408,
    "dbof-video-fc-circulant": 41_156_712,
    "dbof-video-moe-circulant": 12_651_096,
    "logistic": 4_452_886,
    "moe": 22_252_844,
}
B, T = 4, 6
SIZES = (12, 4)  # small rgb, audio


def dequantize(q: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """The starter code's dequantization written out (yt8m.md §1.6): q · 4/255 − 1.9921875.

    The library's circlearn.data.yt8m.dequantize is checked against this below."""
    return q.to(dtype or torch.get_default_dtype()) * (4 / 255) - 1.9921875


def small(name: str, **extra) -> VideoClassifier:
    """Preset ``name`` scaled down for CPU tests, in float64."""
    over = {"feature_sizes": SIZES, "num_classes": 5, "hidden_size": 6, "iterations": 3,
            "n_bagging": 2, **extra}
    pooling = PRESETS[name].get("pooling", "dbof")
    if pooling is not None and "cluster_sizes" not in extra:
        width = {"dbof": (16, 8), "netvlad": (3, 2), "netfv": (3, 2)}[pooling]
        over["cluster_sizes"] = width[:1] if "use_features" in PRESETS[name] else width
    torch.manual_seed(0)
    return from_preset(name, dtype=torch.float64, **over)


def frames_uint8(gen, b=B, t=T):
    return torch.randint(0, 256, (b, t, sum(SIZES)), generator=gen, dtype=torch.uint8)


FRAME_PRESETS = [n for n in PRESETS if PRESETS[n].get("pooling", "dbof") is not None]
VIDEO_PRESETS = [n for n in PRESETS if n not in FRAME_PRESETS]
NUM_FRAMES = torch.tensor([T, 3, 1, 0])


# ----------------------------------------------------------------------------- presets
def test_presets_are_the_readme_table():
    assert set(PRESETS) == set(PAPER_COUNTS)


@pytest.mark.parametrize("name", list(PAPER_COUNTS))
def test_preset_parameter_count_at_paper_size(name):
    assert count_parameters(from_preset(name, device="meta")) == PAPER_COUNTS[name]


def test_sign_diagonal_is_a_buffer_not_a_parameter():
    m = from_preset("dbof-fc-circulant-sign", device="meta")
    signs = sum(buf.numel() for key, buf in m.named_buffers() if key.endswith("linear.d"))
    assert signs == 8192 + 4096  # paper.md §4.2: + 12,288 non-trainable signs


@pytest.mark.parametrize("name", ["dbof", "netvlad-fc-circulant"])
def test_size_report_adds_up(name):
    m = from_preset(name, device="meta")
    rows = {r["component"]: r for r in m.size_report()}
    total = rows.pop("total")
    assert total["parameters"] == count_parameters(m) == sum(r["parameters"]
                                                             for r in rows.values())
    assert total["fp32_bytes"] == 4 * total["parameters"] == 2 * total["fp16_bytes"]
    assert set(rows) == {"pooling.rgb", "pooling.audio", "fc.rgb", "fc.audio", "classifier",
                         "context_gating"}


def test_size_report_paper_components():
    rows = {r["component"]: r["parameters"] for r in from_preset("dbof", device="meta")
            .size_report()}
    assert rows["pooling.rgb"] == 8_404_992 and rows["fc.rgb"] == 4_195_328
    assert rows["classifier"] + rows["context_gating"] == 50_530_408


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError, match="unknown preset 'dbof2'.*netvlad-fc-circulant"):
        from_preset("dbof2")


def test_unknown_override_names_the_field():
    with pytest.raises(ValueError, match="hiden_size"):
        from_preset("dbof", hiden_size=64)


@pytest.mark.parametrize("over, match", [
    ({"pooling": "gem"}, "pooling"),
    ({"fc": "hankel"}, "fc"),
    ({"embedding": "butterfly"}, "embedding"),
    ({"rank": 0}, "rank"),
    ({"classifier": "svm"}, "classifier"),
    ({"feature_sizes": (1024,)}, "feature_sizes"),
    ({"feature_sizes": (1024, 0)}, "feature_sizes"),
    ({"cluster_sizes": (64,)}, "cluster_sizes"),
    ({"use_features": ("rgb", "depth")}, "use_features"),
    ({"hidden_size": 0}, "hidden_size"),
    ({"iterations": 0}, "iterations"),
    ({"eval_sampling": "first"}, "eval_sampling"),
    ({"l2": -1.0}, "l2"),
])
def test_bad_config_names_the_field(over, match):
    with pytest.raises(ValueError, match=match):
        from_preset("dbof", device="meta", **over)


def test_config_dict_round_trip():
    cfg = ModelConfig(pooling="netvlad", cluster_sizes=[64, 32], fc="circulant-sign")
    assert cfg.cluster_sizes == (64, 32)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize("name", FRAME_PRESETS)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("as_float", [False, True])
def test_frame_level_forward_shapes_and_probabilities(name, training, as_float, gen):
    m = small(name).train(training)
    x = frames_uint8(gen)
    if as_float:
        x = dequantize(x)
    p = m(x, NUM_FRAMES, generator=gen)
    assert p.shape == (B, 5) and p.dtype == torch.float64
    assert bool(((p > 0) & (p < 1)).all())


@pytest.mark.parametrize("name", VIDEO_PRESETS)
def test_video_level_forward(name, gen):
    m = small(name)
    p = m(torch.randn(B, sum(SIZES), generator=gen, dtype=torch.float64))
    assert p.shape == (B, 5) and bool(((p > 0) & (p < 1)).all())
    with pytest.raises(ValueError, match="video-level features"):
        m(frames_uint8(gen))


@pytest.mark.parametrize("sampling", ["random", "all"])
def test_uint8_input_is_dequantized_inside(sampling, gen):
    m = small("dbof", eval_sampling=sampling).eval()
    q = frames_uint8(gen)
    torch.testing.assert_close(m(q, NUM_FRAMES), m(dequantize(q, torch.float64), NUM_FRAMES),
                               **F64)


def test_input_follows_the_parameter_dtype(gen):
    m = small("dbof").float().eval()
    q = frames_uint8(gen)
    p32 = m(q, NUM_FRAMES)
    assert p32.dtype == torch.float32
    torch.testing.assert_close(p32, m.double()(q, NUM_FRAMES).float(), **F32)


def test_dequantize_matches_the_data_module(gen):
    yt8m = pytest.importorskip("circlearn.data.yt8m")
    q = torch.arange(256, dtype=torch.uint8)
    torch.testing.assert_close(dequantize(q, torch.float32), yt8m.dequantize(q).float(), **F32)


def test_input_is_l2_normalized_per_frame(gen):
    m = small("netvlad", eval_sampling="all").eval()
    x = torch.randn(B, T, sum(SIZES), generator=gen, dtype=torch.float64)
    scale = torch.rand(B, T, 1, generator=gen, dtype=torch.float64) + 0.5
    torch.testing.assert_close(m(x * scale, NUM_FRAMES), m(x, NUM_FRAMES), **F64)


def test_video_only_model_normalizes_the_joint_vector(gen):
    """--no_audio drops the audio branch but audio still enters the L2 norm (paper §3.1)."""
    m = small("dbof-video", eval_sampling="all").eval()
    x = torch.randn(B, T, sum(SIZES), generator=gen, dtype=torch.float64)
    louder = x.clone()
    louder[..., SIZES[0]:] *= 10
    assert not torch.allclose(m(louder), m(x))
    assert list(m.pooling) == ["rgb"]


@pytest.mark.parametrize("name", ["dbof", "netfv", "dbof-video-moe-circulant"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("sampling", ["random", "all"])
def test_padding_never_changes_the_result(name, training, sampling, gen):
    m = small(name, eval_sampling=sampling).train(training)
    x = frames_uint8(gen)
    pos = torch.arange(T).view(1, T, 1)
    noisy = torch.where(pos < NUM_FRAMES.view(B, 1, 1), x, frames_uint8(gen))
    longer = torch.cat([noisy, frames_uint8(gen, t=3)], dim=1)
    outs = [m(v, NUM_FRAMES, generator=torch.Generator().manual_seed(1)) for v in
            (x, noisy, longer)]
    torch.testing.assert_close(outs[1], outs[0], **F64)
    torch.testing.assert_close(outs[2], outs[0], **F64)


@pytest.mark.parametrize("name", ["dbof", "netvlad", "netfv"])
def test_evaluation_over_all_frames_ignores_frame_order(name, gen):
    m = small(name, eval_sampling="all").eval()
    x = frames_uint8(gen)
    perm = torch.randperm(T, generator=gen)
    full = torch.full((B,), T)
    torch.testing.assert_close(m(x[:, perm], full), m(x, full), **F64)


def test_evaluation_is_reproducible(gen):
    m = small("dbof").eval()
    x = frames_uint8(gen)
    torch.testing.assert_close(m(x, NUM_FRAMES), m(x, NUM_FRAMES), rtol=0, atol=0)
    other = m(x, NUM_FRAMES, generator=torch.Generator().manual_seed(123))
    assert not torch.allclose(other, m(x, NUM_FRAMES))


def test_training_forward_is_sampling_then_bag_average(gen):
    """Slow twin of the training forward: sample, pool each bag, average, FC, MoE, CG."""
    m = small("dbof", n_bagging=3).train()
    x = frames_uint8(gen)
    got = m(x, NUM_FRAMES, generator=torch.Generator().manual_seed(5))
    idx = sample_frame_indices(NUM_FRAMES, 3, 3, torch.Generator().manual_seed(5))
    real = idx < NUM_FRAMES.view(B, 1, 1)
    v = prepare_frames(gather_frames(x, idx), real, torch.float64)  # (B, bags, it, D)
    hs = []
    for name, sl in (("rgb", slice(0, 12)), ("audio", slice(12, 16))):
        pooled = sum(m.pooling[name](v[:, j, :, sl]) for j in range(3)) / 3
        hs.append(torch.clamp(m.fc[name].bn(m.fc[name].linear(pooled)), 0, 6))
    want = m.context_gating(m.classifier(torch.cat(hs, dim=1)))
    torch.testing.assert_close(got, want, **F64)


def test_bagging_updates_batch_norm_once_per_bag(gen):
    m = small("dbof", n_bagging=4).train()
    m(frames_uint8(gen), NUM_FRAMES, generator=gen)
    assert int(m.pooling["rgb"].bn.num_batches_tracked) == 4
    assert int(m.fc["rgb"].bn.num_batches_tracked) == 1


# ----------------------------------------------------------------------------- structure
def _densify(model: nn.Module) -> nn.Module:
    """Replace every CirculantLinear by an nn.Linear holding its .dense() weight and bias."""
    for name, child in list(model.named_children()):
        if isinstance(child, CirculantLinear):
            dense = nn.Linear(child.in_features, child.out_features, bias=child.bias is not None,
                              dtype=torch.float64)
            with torch.no_grad():
                dense.weight.copy_(child.dense())
                if child.bias is not None:
                    dense.bias.copy_(child.bias)
            setattr(model, name, dense)
        else:
            _densify(child)
    return model


CIRCULANT_PRESETS = [n for n in PRESETS if "circulant" in n]


@pytest.mark.parametrize("name", CIRCULANT_PRESETS)
@pytest.mark.parametrize("sampling", ["random", "all"])
def test_circulant_layers_equal_dense_layers_holding_their_weights(name, sampling, gen):
    m = small(name, eval_sampling=sampling).eval()
    n_circ = sum(isinstance(mod, CirculantLinear) for mod in m.modules())
    assert n_circ >= 1
    x = frames_uint8(gen)
    want = m(x, NUM_FRAMES)
    d = _densify(m)
    assert not any(isinstance(mod, CirculantLinear) for mod in d.modules())
    if d.config.classifier_layer != "dense":
        d.classifier.l2 = 0.0
    torch.testing.assert_close(d(x, NUM_FRAMES), want, **F64)


@pytest.mark.parametrize("name", list(PRESETS))
def test_gradients_reach_every_trainable_parameter(name, gen):
    m = small(name).train()
    if m.config.frame_level:
        p = m(frames_uint8(gen), NUM_FRAMES, generator=gen)
    else:
        p = m(torch.randn(B, sum(SIZES), generator=gen, dtype=torch.float64))
    (p.log().sum() + m.regularization_loss()).backward()
    for key, prm in m.named_parameters():
        assert prm.grad is not None and bool(prm.grad.abs().sum() > 0), key


@pytest.mark.parametrize("name", ["dbof-fc-circulant-sign", "netfv-fc-circulant",
                                  "dbof-video-moe-circulant"])
def test_state_dict_round_trip_keeps_sign_diagonal(name, gen):
    a = small(name, sign_seed=3).eval()
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = small(name, sign_seed=11).eval()
    b.load_state_dict(torch.load(buf, weights_only=True))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    x = frames_uint8(gen)
    torch.testing.assert_close(b(x, NUM_FRAMES), a(x, NUM_FRAMES), rtol=0, atol=0)


def test_sign_diagonals_differ_between_layers():
    m = small("dbof-fc-circulant-sign", cluster_sizes=(16, 16), feature_sizes=(16, 16))
    rgb, audio = m.fc["rgb"].linear.d, m.fc["audio"].linear.d
    assert set(rgb.unique().tolist()) == {-1.0, 1.0} and not torch.equal(rgb, audio)


def test_regularization_loss_is_the_moe_l2():
    m = small("dbof")
    w = m.classifier.gates.weight.square().sum() + m.classifier.experts.weight.square().sum()
    torch.testing.assert_close(m.regularization_loss(), 1e-8 * 0.5 * w, **F64)
    assert float(small("dbof-video-moe-circulant").regularization_loss()) == 0.0


def test_batch_norm_settings_everywhere():
    m = small("dbof")
    bns = [mod for mod in m.modules() if isinstance(mod, nn.BatchNorm1d)]
    assert len(bns) == 5  # 2 DBoF, 2 FC, context gating
    assert all((bn.momentum, bn.eps) == (1e-3, 1e-3) for bn in bns)


@pytest.mark.parametrize("name, layer, std", [
    ("dbof", "fc.rgb.linear.weight", 512 ** -0.5),
    ("dbof", "pooling.rgb.projection.weight", 1024 ** -0.5),
    ("dbof-fc-circulant", "fc.rgb.linear.d", 512 ** -0.5),
    ("dbof-video-embedding-circulant", "pooling.rgb.projection.c", 8192 ** -0.5),
    ("dbof-video-moe-circulant", "classifier.gates.c", (3862 * 5) ** -0.5),
    ("dbof-video-moe-circulant", "classifier.experts.c", (3862 * 4) ** -0.5),
    ("netvlad", "pooling.rgb.anchors", 1024 ** -0.5),
])
def test_paper_initialization_std(name, layer, std):
    torch.manual_seed(0)
    cfg = {"num_classes": 3862} if "moe" in name else {"num_classes": 8}
    params = dict(from_preset(name, **cfg).named_parameters())
    w = params[layer].detach()
    assert abs(float(w.std()) / std - 1) < 0.05, (float(w.std()), std)


def test_circulant_moe_expert_bias_is_constant():
    m = small("dbof-video-moe-circulant")
    bias = m.classifier.experts.bias.detach()
    torch.testing.assert_close(bias, torch.full_like(bias, (5 * 4) ** -0.5))


@pytest.mark.parametrize("frames, num_frames, match", [
    (torch.zeros(B, T, 17), None, "feature_sizes"),
    (torch.zeros(B, 16), None, "frames"),
    (torch.zeros(B, T, 16), torch.tensor([T + 1, 1, 1, 1]), "num_frames"),
    (torch.zeros(B, T, 16), torch.tensor([-1, 1, 1, 1]), "num_frames"),
    (torch.zeros(B, T, 16), torch.tensor([1, 1]), "num_frames"),
    (torch.zeros(B, T, 16), torch.tensor([1.0, 1, 1, 1]), "num_frames"),
    (torch.zeros(B, T, 16, dtype=torch.int32), None, "uint8"),
])
def test_bad_inputs_raise(frames, num_frames, match):
    with pytest.raises(ValueError, match=match):
        small("dbof")(frames, num_frames)
