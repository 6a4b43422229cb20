"""FastPathOptions / fast_path: the options object, and plain mode ≡ the fast path."""

import threading

import pytest
import scipy.fft
import torch

from circlearn.nn import CirculantLinear, FastPathOptions, fast_path, fast_path_options, kernels
from circlearn.nn import functional as F


def test_defaults_are_the_documented_values():
    assert fast_path_options() == FastPathOptions(small_cpu_rows=8, chunk_transforms=128,
                                                  use_kernels=True, plain=False)


def test_fast_path_replaces_nests_and_restores_after_an_exception():
    with fast_path(chunk_transforms=16) as outer:
        assert outer.chunk_transforms == 16 and fast_path_options() is outer
        with pytest.raises(RuntimeError, match="boom"):
            with fast_path(plain=True):
                assert fast_path_options() == FastPathOptions(chunk_transforms=16, plain=True)
                raise RuntimeError("boom")
        assert fast_path_options() == FastPathOptions(chunk_transforms=16)
    assert fast_path_options() == FastPathOptions()


def test_options_are_per_thread():
    seen = []
    with fast_path(plain=True):
        t = threading.Thread(target=lambda: seen.append(fast_path_options().plain))
        t.start()
        t.join()
    assert seen == [False]


@pytest.mark.parametrize("changes,error,match", [
    ({"chunk": 3}, TypeError, "chunk.*valid: small_cpu_rows, chunk_transforms"),
    ({"chunk_transforms": 0}, ValueError, "chunk_transforms must be >= 1, got 0"),
    ({"small_cpu_rows": -1}, ValueError, "small_cpu_rows must be >= 0, got -1"),
    ({"plain": 1}, TypeError, "plain must be a bool, got 1"),
    ({"chunk_transforms": 2.5}, TypeError, "chunk_transforms must be an int, got 2.5"),
])
def test_bad_options_are_named(changes, error, match):
    with pytest.raises(error, match=match):
        with fast_path(**changes):
            pass
    assert fast_path_options() == FastPathOptions()


def test_old_module_globals_are_gone():
    """The options replaced them (a stale global would silently steer nothing)."""
    for name in ("SMALL_CPU_ROWS", "CHUNK_TRANSFORMS", "USE_KERNELS"):
        assert not hasattr(F, name)


LAYERS = [
    dict(in_features=16, out_features=16, diagonal="learned"),
    dict(in_features=16, out_features=40, diagonal="sign", sign_seed=3),
    dict(in_features=16, out_features=7, diagonal=None),
    dict(in_features=13, out_features=30, diagonal="learned", n_factors=2),
    dict(in_features=16, out_features=40, diagonal=None, bias=False),
]


@pytest.mark.parametrize("kwargs", LAYERS, ids=lambda k: "-".join(map(str, k.values())))
@pytest.mark.parametrize("rows", [2, 33])  # 2: the scipy inference route; 33: chunked
def test_plain_equals_fast_path_in_values_and_gradients(kwargs, rows):
    torch.manual_seed(0)
    layer = CirculantLinear(**kwargs, dtype=torch.float64)
    x = torch.randn(rows, kwargs["in_features"], dtype=torch.float64, requires_grad=True)
    gy = torch.randn(rows, kwargs["out_features"], dtype=torch.float64)
    params = [x] + [p for p in layer.parameters()]
    results = {}
    for plain in (False, True):
        with fast_path(plain=plain, chunk_transforms=8):
            y = layer(x)
            results[plain] = (y, torch.autograd.grad(y, params, gy))
            with torch.no_grad():
                results[plain, "eval"] = layer.eval()(x)
            layer.train()
    torch.testing.assert_close(results[True][0], results[False][0], rtol=1e-10, atol=1e-10)
    for a, b in zip(results[True][1], results[False][1]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(results[True, "eval"], results[False, "eval"],
                               rtol=1e-10, atol=1e-10)


def test_plain_mode_calls_no_numba_no_scipy_no_custom_function(monkeypatch):
    calls = []

    def forbid(name):
        def call(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} called in plain mode")
        return call

    for name in ("rfft", "irfft"):
        monkeypatch.setattr(scipy.fft, name, forbid(f"scipy.fft.{name}"))
    for name in ("frequency_backward", "spatial_backward"):
        monkeypatch.setattr(kernels, name, forbid(f"kernels.{name}"))
    monkeypatch.setattr(torch.autograd.Function, "apply",
                        classmethod(lambda cls, *a, **k: forbid(f"{cls.__name__}.apply")()))
    torch.manual_seed(0)
    with fast_path(plain=True):
        for kwargs in LAYERS:
            layer = CirculantLinear(**kwargs)
            x = torch.randn(3, kwargs["in_features"], requires_grad=True)
            layer(x).sum().backward()
            with torch.no_grad():
                layer.eval()(x[:1])
            assert layer._spectrum_cache is None  # no cached spectrum either
        F.circulant_linear(torch.randn(2, 8), torch.randn(1, 8), None, 8)
        F.circulant_spectrum(torch.randn(1, 8))
    assert calls == []


def test_the_forbidding_in_the_test_above_bites(monkeypatch):
    """Without plain=True the same layer reaches the patched calls (the test can fail)."""
    monkeypatch.setattr(kernels, "frequency_backward",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("kernel")))
    layer = CirculantLinear(16, 16)
    with pytest.raises(AssertionError, match="kernel"):
        layer(torch.randn(3, 16)).sum().backward()


@pytest.mark.parametrize("kwargs", LAYERS[:3], ids=["learned", "sign", "plain"])
def test_plain_mode_traces_with_jit_and_torch_export(kwargs):
    torch.manual_seed(0)
    layer = CirculantLinear(**kwargs).eval()
    x = torch.randn(5, kwargs["in_features"])
    with torch.no_grad():
        expected = layer(x)
        with fast_path(plain=True):
            traced = torch.jit.trace(layer, (x,), check_trace=False)
            exported = torch.export.export(layer, (x,))
    x2 = torch.randn(5, kwargs["in_features"])
    with torch.no_grad():
        torch.testing.assert_close(traced(x), expected)
        torch.testing.assert_close(exported.module()(x), expected)
        torch.testing.assert_close(exported.module()(x2), layer(x2))
    ops = {str(node.target) for node in exported.graph.nodes if node.op == "call_function"}
    assert any("fft_rfft" in op for op in ops) and any("fft_irfft" in op for op in ops)
