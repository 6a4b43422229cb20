"""Models with the structured layer kinds: build, count, train a step (small sizes)."""

import math

import pytest
import torch

from circlearn.models import LAYER_KINDS, count_parameters, from_preset, preset_config
from circlearn.models.layers import make_linear
from circlearn.nn import CirculantLinear, LowRankLinear, ToeplitzLinear

NEW_KINDS = ["circulant-sign-output", "toeplitz", "low-rank"]
SMALL = dict(feature_sizes=(16, 8), num_classes=6, hidden_size=12, n_bagging=2, iterations=4,
             num_mixtures=2, rank=2)
CLUSTERS = {"dbof": (24, 12), "netvlad": (4, 2)}


def test_layer_kinds_keep_the_old_names_and_add_the_new():
    assert LAYER_KINDS[:4] == ("dense", "circulant", "circulant-sign", "circulant-plain")
    assert set(NEW_KINDS) <= set(LAYER_KINDS)


@pytest.mark.parametrize("kind, cls", [("toeplitz", ToeplitzLinear),
                                       ("low-rank", LowRankLinear),
                                       ("circulant-sign-output", CirculantLinear)])
def test_make_linear_builds_each_kind(kind, cls):
    layer = make_linear(kind, 20, 8, bias=True, std=0.3, rank=3)
    assert isinstance(layer, cls) and tuple(layer.dense().shape) == (8, 20)
    if kind != "circulant-sign-output":
        assert float(layer.bias.detach().abs().max()) == 0.0  # the dense rule: zero bias
    else:
        assert layer.diagonal == "sign-output"
    # the low-rank rank is capped at min(in, out)
    assert make_linear("low-rank", 20, 8, bias=False, std=0.3, rank=50).rank == 8


@pytest.mark.parametrize("pooling", ["dbof", "netvlad"])
@pytest.mark.parametrize("place", ["embedding", "fc", "classifier_layer"])
@pytest.mark.parametrize("kind", NEW_KINDS)
def test_models_build_and_train_a_step(kind, place, pooling):
    torch.manual_seed(0)
    model = from_preset(pooling, cluster_sizes=CLUSTERS[pooling], **{place: kind}, **SMALL)
    frames = torch.randint(0, 256, (5, 7, 24), dtype=torch.uint8)
    num_frames = torch.tensor([7, 3, 5, 1, 6])
    labels = torch.zeros(5, 6)
    labels[torch.arange(5), torch.arange(5)] = 1
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    probs = model(frames, num_frames)
    assert probs.shape == (5, 6) and torch.isfinite(probs).all()
    loss = torch.nn.functional.binary_cross_entropy(probs, labels) + model.regularization_loss()
    loss.backward()
    opt.step()
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    structured = [k for k in changed if k.startswith({"embedding": "pooling", "fc": "fc",
                                                      "classifier_layer": "classifier"}[place])]
    assert structured, f"no parameter of the {kind} {place} was updated"
    model.eval()
    with torch.no_grad():
        assert torch.isfinite(model(frames, num_frames)).all()


def test_parameter_counts_of_the_fc_kinds_at_paper_size():
    """FC 8192 → 512 after the DBoF video branch (dense: 4,194,304 weights)."""
    dense = count_parameters(from_preset("dbof", device="meta"))
    fc_dense = 8192 * 512 + 4096 * 512
    expected = {
        "circulant-sign-output": 8192 + 4096,           # one block each, signs not trained
        "toeplitz": (8192 + 512 - 1) + (4096 + 512 - 1),
        "low-rank": 2 * (8192 + 512) + 2 * (4096 + 512),  # rank 2
    }
    for kind, fc in expected.items():
        n = count_parameters(from_preset("dbof", fc=kind, rank=2, device="meta"))
        assert n == dense - fc_dense + fc, kind


def test_structured_init_follows_the_dense_rule():
    cfg = preset_config("dbof", cluster_sizes=(2000, 1000), fc="low-rank", rank=4,
                        embedding="toeplitz", feature_sizes=(1024, 128), num_classes=10)
    torch.manual_seed(0)
    from circlearn.models import VideoClassifier

    model = VideoClassifier(cfg)
    w = model.fc["rgb"].linear.dense().detach()
    assert abs(float(w.std()) * math.sqrt(512) - 1) < 0.1  # dense FC: N(0, 1/hidden)
    t = model.pooling["rgb"].projection.t.detach()
    assert abs(float(t.std()) * math.sqrt(1024) - 1) < 0.1  # dense DBoF: N(0, 1/F)


def test_cli_layer_kind_options(capsys):
    import argparse

    from circlearn.cli import main
    from circlearn.training.cli import configure_train_parser, model_config_from_args

    parser = argparse.ArgumentParser()
    configure_train_parser(parser)
    args = parser.parse_args(["--train-dir", "x", "--train-data-pattern", "y", "--model", "dbof",
                              "--fc", "low-rank", "--rank", "3", "--embedding", "toeplitz",
                              "--classifier-layer", "circulant-sign-output"])
    cfg = model_config_from_args(args)
    assert (cfg.fc, cfg.rank, cfg.embedding, cfg.classifier_layer) == (
        "low-rank", 3, "toeplitz", "circulant-sign-output")
    # the generated options carry the valid kinds as argparse choices: exit 2, and the error
    # line names the bad value and the valid kinds
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--train-dir", "x", "--train-data-pattern", "y", "--fc", "hankel"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and "'hankel'" in err[-1] and "low-rank" in err[-1]


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_models_with_each_kind_export_to_torchscript(kind, tmp_path):
    """The deployable TorchScript traces every new kind (sign-output uses the traceable twin)
    and export_torchscript checks the artifact against the model."""
    import warnings

    from circlearn.deploy.torchscript import export_torchscript

    torch.manual_seed(0)
    model = from_preset("dbof", cluster_sizes=(24, 12), embedding=kind, fc=kind,
                        classifier_layer=kind, **SMALL).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks
        info = export_torchscript(model, tmp_path / "m.pt", max_batch=4)
    assert info["parameters"] == count_parameters(model)
    loaded = torch.jit.load(str(tmp_path / "m.pt"))
    frames = torch.randint(0, 256, (3, 7, 24), dtype=torch.uint8)
    num_frames = torch.tensor([7, 2, 5])
    with torch.no_grad():
        torch.testing.assert_close(loaded(frames, num_frames), model(frames, num_frames))
