"""circlearn.plotting.model: the paper's model diagram draws the shapes the library builds."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from circlearn.models import from_preset, preset_config  # noqa: E402
from circlearn.plotting import model  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _shapes(rows, place):
    return [(r["n_in"], r["n_out"]) for r in rows if r["place"] == place]


def test_dbof_paper_shapes():
    # paper.md §2.3 / §4.2: embeddings 1024→8192 and 128→4096, one FC per stream, MoE 1024 wide
    rows = model.model_layers(preset_config("dbof"))
    assert _shapes(rows, "embedding") == [(1024, 8192), (128, 4096)]
    assert _shapes(rows, "fc") == [(8192, 512), (4096, 512)]
    assert _shapes(rows, "classifier_layer") == [(1024, 3862 * 5), (1024, 3862 * 4)]
    assert _shapes(rows, "context_gating") == [(3862, 3862)]


@pytest.mark.parametrize("preset, fc_inputs", [("netvlad", [65536, 4096]),
                                               ("netfv", [131072, 8192]),
                                               ("dbof-video", [8192])])
def test_fc_input_is_the_pooled_width(preset, fc_inputs):
    assert [i for i, _ in _shapes(model.model_layers(preset_config(preset)), "fc")] == fc_inputs


@pytest.mark.parametrize("preset", ["dbof", "netvlad", "dbof-video-fc-circulant"])
def test_layer_shapes_match_the_built_model(preset):
    # The diagram's weight shapes are those of the torch modules from_preset builds.
    rows = model.model_layers(preset_config(preset))
    net = from_preset(preset, device="meta")
    widths = set()
    for m in net.modules():
        if isinstance(m, torch.nn.Linear):
            widths.add((m.in_features, m.out_features))
        elif hasattr(m, "in_features") and hasattr(m, "out_features"):
            widths.add((m.in_features, m.out_features))
    for r in rows:
        if r["place"] in ("fc", "classifier_layer"):
            assert (r["n_in"], r["n_out"]) in widths, (r, sorted(widths))


def test_kinds_follow_the_config():
    rows = model.model_layers(preset_config("dbof-fc-circulant"))
    assert {r["kind"] for r in rows if r["place"] == "fc"} == {"circulant"}
    assert {r["kind"] for r in rows if r["place"] == "embedding"} == {"dense"}


def test_plot_model_marks_three_places():
    fig = model.plot_model(preset_config("dbof"))
    texts = [t.get_text() for t in fig.axes[0].texts]
    for mark in ("[1] embedding", "[2] FC (rgb)", "[2] FC (audio)", "[3] MoE"):
        assert any(t.startswith(mark) for t in texts), (mark, texts)
    assert any("8 blocks × 1,024" in t for t in texts)
    assert any("8,192 → 512" in t and "cut" in t for t in texts)


def test_video_level_model_raises():
    with pytest.raises(ValueError, match="pooling=None"):
        model.model_layers(preset_config("moe"))
