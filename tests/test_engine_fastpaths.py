"""The engine's fast paths compute exactly what the plain definitions compute.

``fit`` does not call ``train_step`` + ``optimizer.step``: it applies L2 inside the optimizer's blocks;
big updates are split over threads; logits are kept in Fortran order for the loss. These tests pin
those paths to the plain ones, bit for bit.
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import optimizers
from nnscratch.parameters import ParameterBuffer

FACTORIES = {
    "sgd": lambda: nn.SGD(0.1),
    "momentum": lambda: nn.Momentum(0.05, nesterov=True),
    "rmsprop": lambda: nn.RMSprop(0.01),
    "adam": lambda: nn.Adam(0.01),
}


def data(n: int = 40, features: int = 6, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)), rng.integers(0, classes, n)


def model(dtype: str = "float64", keep_prob: float = 1.0, activation: str = "relu") -> nn.MLP:
    gens = nn.make_generators(0)
    return nn.MLP(6, [16, 8], 3, dtype=dtype, keep_prob=keep_prob, activation=activation,
                  rng=gens.init, dropout_rng=gens.dropout)


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("activation, keep_prob", [("relu", 1.0), ("tanh", 0.8), ("leaky_relu", 0.8)])
def test_fit_step_equals_train_step_then_optimizer_step(name, activation, keep_prob):
    X, y = data()
    fast, plain = model(keep_prob=keep_prob, activation=activation), model(keep_prob=keep_prob, activation=activation)
    fast_opt, plain_opt = FACTORIES[name](), FACTORIES[name]()
    for start in range(0, 40, 10):  # four steps, L2 on
        batch = slice(start, start + 10)
        fast_result = fast._fit_step(X[batch], y[batch], fast_opt, 0.3)
        plain_result = plain.train_step(X[batch], y[batch], 0.3)
        plain_opt.step(plain.params)
        assert fast_result == plain_result
    np.testing.assert_array_equal(fast.params.data, plain.params.data)
    for key, value in plain_opt.state_dict().items():
        np.testing.assert_array_equal(fast_opt.state_dict()[key], value)


def test_fit_calls_an_overridden_step():
    calls = []

    class CountingSGD(nn.SGD):
        def step(self, params):
            calls.append(1)
            super().step(params)

    X, y = data()
    nn.fit(model(), CountingSGD(0.1), X, y, epochs=2, batch_size=10, rng=np.random.default_rng(0))
    assert len(calls) == 8


@pytest.mark.parametrize("name", FACTORIES)
def test_threaded_update_equals_one_thread(name, monkeypatch):
    monkeypatch.setattr(optimizers, "PARALLEL_MIN", 1000)
    monkeypatch.setattr(optimizers, "BLOCK", 300)
    params = {}
    for threads in ("1", "3"):
        monkeypatch.setenv("NNSCRATCH_NUM_THREADS", threads)
        buffer = ParameterBuffer({"a.W": (70, 50), "a.b": (50,)}, np.float32)
        rng = np.random.default_rng(0)
        buffer.data[:] = rng.standard_normal(buffer.size)
        optimizer = FACTORIES[name]()
        for _ in range(3):
            buffer.grad[:] = rng.standard_normal(buffer.size)
            optimizer.begin_step(buffer)
            optimizer.update_span(0, 3500, decay=0.01)  # the weights, with L2
            optimizer.update_span(3500, buffer.size)
        assert len(optimizer._plans[(0, 3500)]) == int(threads)
        params[threads] = buffer.data.copy()
    np.testing.assert_array_equal(params["1"], params["3"])


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "sigmoid"])
def test_dropout_backward_without_kept_copy_matches_finite_differences(activation):
    """Sign-only activations (ReLU, leaky ReLU) differentiate the output after dropout."""
    net = model(keep_prob=0.7, activation=activation)
    X, y = data(n=7)
    for name in net.bias_names():
        net.parameters[name][...] = 0.3

    def loss() -> float:
        net.dropout_rng = np.random.default_rng(5)
        return net.loss(X, y, training=True)

    net.dropout_rng = np.random.default_rng(5)
    analytic = net.gradient(X, y)["dense1.W"].copy()
    flat, eps = net.params.values["dense1.W"], 1e-6
    numeric = np.zeros_like(analytic)
    for index in np.ndindex(flat.shape):
        original = flat[index]
        flat[index] = original + eps
        plus = loss()
        flat[index] = original - eps
        minus = loss()
        flat[index] = original
        numeric[index] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_training_steps_do_not_accumulate_memory():
    X, y = data(n=64)
    net, optimizer = model("float32"), nn.Adam(0.01)
    X32 = X.astype(np.float32)
    for _ in range(3):  # warm up: workspaces, optimizer state, block plans
        net._fit_step(X32[:32], y[:32], optimizer, 0.1)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(20):
        net._fit_step(X32[:32], y[:32], optimizer, 0.1)
    growth = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert growth < 4096


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_cross_entropy_is_the_same_in_either_memory_order(dtype):
    rng = np.random.default_rng(0)
    logits = (5 * rng.standard_normal((33, 10))).astype(dtype)
    logits[0] = [1e4, 0, 0, -1e4, 0, 0, 0, 0, 0, 0]  # huge logits stay finite in both paths
    labels = rng.integers(0, 10, 33)
    loss = nn.losses.SoftmaxCrossEntropy()
    rows, columns = np.empty_like(logits, order="C"), np.empty_like(logits, order="F")
    by_rows = loss.value_gradient_correct(np.ascontiguousarray(logits), labels, rows)
    by_columns = loss.value_gradient_correct(np.asfortranarray(logits), labels, columns)
    assert by_rows[1] == by_columns[1] == int(np.sum(logits.argmax(axis=1) == labels))
    assert by_rows[0] == pytest.approx(by_columns[0], rel=1e-6 if dtype == "float32" else 1e-13)
    np.testing.assert_allclose(rows, columns, rtol=1e-6 if dtype == "float32" else 1e-13, atol=1e-9)
    assert np.all(np.isfinite(columns))
