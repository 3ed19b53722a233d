"""MLP: finite-difference gradient checks, forward pass against a hand formula, dropout, dtype, API."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.network import EVAL_BATCH_SIZE

ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid"]
INPUT_SIZE, BATCH = 4, 7


def make_model(hidden, output_size, activation="relu", keep_prob=1.0, dtype="float64", seed=0, **kwargs) -> nn.MLP:
    gens = nn.make_generators(seed)
    return nn.MLP(INPUT_SIZE, hidden, output_size, activation=activation, keep_prob=keep_prob, dtype=dtype,
                  rng=gens.init, dropout_rng=gens.dropout, **kwargs)


def make_batch(output_size: int, n: int = BATCH, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, INPUT_SIZE))
    y = rng.integers(0, max(2, output_size), size=n)
    return X, y


# ----- reference forward pass (independent of the engine's in-place code) ---------------------
def hand_activation(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z < 0, 0.01 * z, z)
    if name == "tanh":
        return np.tanh(z)
    return 1.0 / (1.0 + np.exp(-z))


def hand_logits(model: nn.MLP, X: np.ndarray) -> np.ndarray:
    a = np.asarray(X, np.float64)
    for layer in range(1, model.n_layers + 1):
        W = model.parameters[f"dense{layer}.W"].astype(np.float64)
        b = model.parameters[f"dense{layer}.b"].astype(np.float64)
        a = a @ W + b
        if layer < model.n_layers:
            a = hand_activation(model.activation_name, a)
    return a


def hand_loss(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy: log-softmax by hand, or BCE of a sigmoid for one output column."""
    if logits.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    shift = logits.max(axis=1, keepdims=True)
    log_softmax = logits - shift - np.log(np.exp(logits - shift).sum(axis=1, keepdims=True))
    return float(-np.mean(log_softmax[np.arange(len(y)), y]))


# ----- gradient check --------------------------------------------------------------------------
def numerical_gradient(model: nn.MLP, loss_fn, eps: float = 1e-6) -> np.ndarray:
    """Central differences of ``loss_fn()`` w.r.t. every entry of the flat parameter buffer."""
    flat = model.params.data
    grad = np.zeros_like(flat)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = loss_fn()
        flat[i] = original - eps
        minus = loss_fn()
        flat[i] = original
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def randomize_biases(model: nn.MLP, seed: int = 3) -> None:
    """Nonzero biases: with zero biases a fully dropped row sits exactly on the ReLU kink."""
    rng = np.random.default_rng(seed)
    for name in model.bias_names():
        model.parameters[name][...] = 0.5 * rng.standard_normal(model.parameters[name].shape)


def check_gradients(model: nn.MLP, X: np.ndarray, y: np.ndarray, l2: float) -> None:
    dropout_seed = 1234
    randomize_biases(model)

    def fix_mask() -> None:
        # the same dropout stream before every evaluation -> the same masks
        model.dropout_rng = np.random.default_rng(dropout_seed)

    def loss() -> float:
        fix_mask()
        return model.loss(X, y, l2, training=True)

    fix_mask()
    analytic = {name: g.copy() for name, g in model.gradient(X, y, l2).items()}
    numeric = model.params.views(numerical_gradient(model, loss))
    assert analytic.keys() == numeric.keys() == model.parameters.keys()
    for name in analytic:
        assert analytic[name].shape == model.parameters[name].shape
        error = relative_error(analytic[name], numeric[name])
        assert error < 1e-6, f"{name}: relative error {error:.2e}"
    assert any(np.abs(g).max() > 1e-3 for g in analytic.values()), "gradients are trivially zero"


GRID = list(itertools.product(ACTIVATIONS, [1, 3], [0.0, 0.1], [[], [5], [6, 5]]))


@pytest.mark.parametrize("activation, output_size, l2, hidden", GRID,
                         ids=[f"{a}-out{o}-l2={l}-h{'x'.join(map(str, h)) or 0}" for a, o, l, h in GRID])
def test_gradient_matches_central_differences(activation, output_size, l2, hidden):
    model = make_model(hidden, output_size, activation)
    X, y = make_batch(output_size)
    check_gradients(model, X, y, l2)


DROPOUT_GRID = list(itertools.product(ACTIVATIONS, [1, 3], [[5], [6, 5]]))


@pytest.mark.parametrize("activation, output_size, hidden", DROPOUT_GRID,
                         ids=[f"{a}-out{o}-h{'x'.join(map(str, h))}" for a, o, h in DROPOUT_GRID])
def test_gradient_with_fixed_dropout_mask_matches_central_differences(activation, output_size, hidden):
    model = make_model(hidden, output_size, activation, keep_prob=0.6)
    X, y = make_batch(output_size)
    check_gradients(model, X, y, l2=0.1)


def test_dropout_mask_really_changes_the_gradient():
    """Guard for the test above: with keep_prob < 1 the masked gradient differs from the full one."""
    X, y = make_batch(3, n=20)
    full = make_model([6, 5], 3, keep_prob=1.0)
    dropped = make_model([6, 5], 3, keep_prob=0.6)
    g_full = full.gradient(X, y)["dense1.W"].copy()
    g_dropped = dropped.gradient(X, y)["dense1.W"].copy()
    assert not np.allclose(g_full, g_dropped)


# ----- forward and loss against hand formulas --------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("output_size", [1, 3])
def test_forward_and_loss_match_hand_formula(activation, output_size):
    model = make_model([6, 5], output_size, activation)
    X, y = make_batch(output_size, n=11)
    expected = hand_logits(model, X)
    np.testing.assert_allclose(model.forward(X), expected, rtol=1e-12, atol=1e-12)
    assert model.loss(X, y) == pytest.approx(hand_loss(expected, y), rel=1e-12)


def test_l2_penalty_is_sum_of_squared_weights_over_twice_the_batch():
    model = make_model([6, 5], 3)
    X, y = make_batch(3, n=8)
    weights = sum(float(np.sum(model.parameters[name] ** 2)) for name in ("dense1.W", "dense2.W", "dense3.W"))
    assert model.loss(X, y, l2=0.3) - model.loss(X, y) == pytest.approx(0.3 / (2 * 8) * weights, rel=1e-12)
    assert model.l2_penalty(0.0, 8) == 0.0


def test_biases_are_not_penalised():
    model = make_model([5], 3)
    X, y = make_batch(3)
    model.parameters["dense2.b"][...] = 5.0
    squared_weights = sum(float(np.sum(model.parameters[name] ** 2)) for name in ("dense1.W", "dense2.W"))
    assert model.loss(X, y, l2=1.0) - model.loss(X, y) == pytest.approx(squared_weights / (2 * BATCH), rel=1e-12)
    with_l2 = model.gradient(X, y, l2=1.0)["dense2.b"].copy()
    np.testing.assert_array_equal(with_l2, model.gradient(X, y, l2=0.0)["dense2.b"])


def test_forward_in_chunks_larger_than_the_eval_batch_matches_hand_formula():
    model = make_model([6], 3)
    X, _ = make_batch(3, n=2 * EVAL_BATCH_SIZE + 37)
    np.testing.assert_allclose(model.forward(X), hand_logits(model, X), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(model.forward(X), model.forward(X, training=True))


def test_forward_returns_fresh_arrays_not_workspace_views():
    model = make_model([6], 3)
    X1, _ = make_batch(3, seed=1)
    X2, _ = make_batch(3, seed=2)
    first = model.forward(X1)
    snapshot = first.copy()
    model.forward(X2)
    model.gradient(X2, np.zeros(BATCH, dtype=np.int64))
    np.testing.assert_array_equal(first, snapshot)


def test_gradient_of_zero_logits_softmax_is_probabilities_minus_onehot():
    model = make_model([], 4)
    model.parameters["dense1.W"][...] = 0.0
    X, y = make_batch(4, n=5)
    grad = model.gradient(X, y)["dense1.b"]
    expected = (np.full((5, 4), 0.25) - np.eye(4)[y]).mean(axis=0)
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    assert model.loss(X, y) == pytest.approx(np.log(4), rel=1e-12)


# ----- dropout ---------------------------------------------------------------------------------
def identity_readout_model(units: int, keep_prob: float) -> nn.MLP:
    """Sigmoid hidden layer read out one-to-one: the logits are the hidden units after dropout."""
    model = nn.MLP(8, [units], units, activation="sigmoid", keep_prob=keep_prob, dtype="float64",
                   rng=np.random.default_rng(0), dropout_rng=np.random.default_rng(1))
    model.parameters["dense2.W"][...] = np.eye(units)
    return model


def test_dropout_keeps_keep_prob_of_units_and_scales_them_by_its_inverse():
    keep_prob = 0.7
    model = identity_readout_model(200, keep_prob)
    X = np.random.default_rng(2).standard_normal((500, 8))
    clean = model.forward(X)  # sigmoid outputs: never exactly 0
    assert np.all(clean > 0)
    dropped = model.forward(X, training=True)
    kept = dropped != 0
    assert kept.mean() == pytest.approx(keep_prob, abs=0.01)
    np.testing.assert_allclose(dropped[kept], clean[kept] / keep_prob, rtol=1e-12)
    # inverted dropout preserves the expected activation
    assert dropped.mean() == pytest.approx(clean.mean(), rel=0.02)


def test_dropout_masks_differ_between_training_passes():
    model = identity_readout_model(50, 0.5)
    X = np.random.default_rng(2).standard_normal((20, 8))
    assert not np.array_equal(model.forward(X, training=True), model.forward(X, training=True))


def test_inference_is_deterministic_and_uses_no_dropout():
    model = identity_readout_model(50, 0.5)
    reference = identity_readout_model(50, 1.0)
    X = np.random.default_rng(2).standard_normal((20, 8))
    first = model.forward(X)
    np.testing.assert_array_equal(first, model.forward(X))
    np.testing.assert_array_equal(first, reference.forward(X))
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(X))
    model.forward(X, training=True)  # a training pass in between changes nothing
    np.testing.assert_array_equal(first, model.forward(X))


def test_keep_prob_one_ignores_the_dropout_rng():
    model = make_model([6, 5], 3)
    X, y = make_batch(3)
    state = model.dropout_rng.bit_generator.state
    model.forward(X, training=True)
    model.gradient(X, y)
    assert model.dropout_rng.bit_generator.state == state


# ----- dtype -----------------------------------------------------------------------------------
def test_float32_is_the_default_end_to_end():
    gens = nn.make_generators(0)
    model = nn.MLP(INPUT_SIZE, [6, 5], 3, keep_prob=0.8, rng=gens.init, dropout_rng=gens.dropout)
    X, y = make_batch(3)  # float64 input
    assert model.dtype == np.float32
    assert all(p.dtype == np.float32 for p in model.parameters.values())
    assert model.forward(X).dtype == np.float32
    assert model.forward(X, training=True).dtype == np.float32
    assert model.predict_proba(X).dtype == np.float32
    assert all(h.dtype == np.float32 for h in model.hidden_activations(X))
    assert model.predict(X).dtype == np.int64
    assert isinstance(model.loss(X, y, l2=0.1), float)
    assert all(g.dtype == np.float32 for g in model.gradient(X, y, l2=0.1).values())
    for optimizer in (nn.SGD(0.1), nn.Momentum(0.1, nesterov=True), nn.RMSprop(0.01), nn.Adam(0.01)):
        optimizer.step(model.params)
        assert all(p.dtype == np.float32 for p in model.parameters.values())
        assert model.params.data.dtype == model.params.grad.dtype == np.float32


def test_sigmoid_output_float32_model():
    model = make_model([5], 1, dtype="float32")
    X, y = make_batch(1)
    proba = model.predict_proba(X)
    assert proba.dtype == np.float32 and proba.shape == (BATCH, 2)
    assert all(g.dtype == np.float32 for g in model.gradient(X, y).values())


# ----- API: shapes, names, config, validation --------------------------------------------------
def test_parameter_names_shapes_and_counts():
    model = nn.MLP.from_layer_sizes([784, 128, 64, 10], rng=np.random.default_rng(0))
    assert model.layer_sizes == [784, 128, 64, 10]
    assert model.n_classes == 10
    shapes = {name: value.shape for name, value in model.parameters.items()}
    assert shapes == {"dense1.W": (784, 128), "dense2.W": (128, 64), "dense3.W": (64, 10),
                      "dense1.b": (128,), "dense2.b": (64,), "dense3.b": (10,)}
    assert model.n_parameters == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    assert {name: g.shape for name, g in model.gradients.items()} == shapes
    assert all(np.all(model.parameters[f"dense{i}.b"] == 0) for i in (1, 2, 3))


def test_predictions_and_probabilities():
    for output_size, n_classes in ((1, 2), (3, 3)):
        model = make_model([5], output_size)
        X, _ = make_batch(output_size, n=30)
        proba = model.predict_proba(X)
        assert model.n_classes == n_classes and proba.shape == (30, n_classes)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_array_equal(model.predict(X), proba.argmax(axis=1))
    model = make_model([5], 1)
    X, _ = make_batch(1)
    p = 1 / (1 + np.exp(-model.forward(X)[:, 0]))
    np.testing.assert_allclose(model.predict_proba(X), np.column_stack([1 - p, p]), rtol=1e-12)


def test_hidden_activations_are_the_hidden_layer_outputs():
    model = make_model([6, 5], 3, activation="tanh")
    X, _ = make_batch(3)
    hidden = model.hidden_activations(X)
    assert [h.shape for h in hidden] == [(BATCH, 6), (BATCH, 5)]
    h1 = np.tanh(X @ model.parameters["dense1.W"] + model.parameters["dense1.b"])
    np.testing.assert_allclose(hidden[0], h1, rtol=1e-12)


def test_config_round_trip_rebuilds_the_same_architecture():
    model = make_model([6, 5], 3, activation="leaky_relu", keep_prob=0.9, init="xavier")
    config = model.config()
    clone = nn.MLP.from_config(config, rng=nn.make_generators(0).init)
    assert clone.config() == config
    np.testing.assert_array_equal(clone.params.data, model.params.data)  # same seed -> same weights


def test_same_init_seed_gives_same_weights_and_different_seeds_differ():
    a, b, c = make_model([6], 3, seed=0), make_model([6], 3, seed=0), make_model([6], 3, seed=1)
    np.testing.assert_array_equal(a.params.data, b.params.data)
    assert not np.array_equal(a.params.data, c.params.data)


@pytest.mark.parametrize("init, std", [("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / (400 + 300))),
                                       ("glorot", np.sqrt(2 / (400 + 300))), ("small", 0.01)])
def test_initializer_scale(init, std):
    model = nn.MLP(400, [300], 10, init=init, dtype="float64", rng=np.random.default_rng(0))
    W = model.parameters["dense1.W"]  # 120k draws: the sample std is within ~0.5 % of the target
    assert W.std() == pytest.approx(std, rel=0.02)
    assert abs(W.mean()) < 0.02 * std


@pytest.mark.parametrize("kwargs, argument", [
    ({"activation": "swish"}, "activation"),
    ({"init": "zeros"}, "init"),
    ({"keep_prob": 0.0}, "keep_prob"),
    ({"keep_prob": 1.5}, "keep_prob"),
    ({"dtype": "float16"}, "dtype"),
])
def test_constructor_rejects_bad_arguments_naming_them(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        nn.MLP(4, [5], 3, **kwargs)


def test_constructor_rejects_empty_layers():
    with pytest.raises(ValueError, match="layer size"):
        nn.MLP(4, [0], 3)
    with pytest.raises(ValueError, match="layer_sizes"):
        nn.MLP.from_layer_sizes([4])


def test_forward_rejects_wrong_input_width():
    model = make_model([5], 3)
    with pytest.raises(ValueError, match="expected"):
        model.forward(np.zeros((2, INPUT_SIZE + 1)))
