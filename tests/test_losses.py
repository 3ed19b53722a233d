"""Output losses on logits: values against hand formulas, gradients, numerical stability."""
from __future__ import annotations

import numpy as np
import pytest

from nnscratch import losses as L


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shift = logits.max(axis=1, keepdims=True)
    return logits - shift - np.log(np.exp(logits - shift).sum(axis=1, keepdims=True))


def batch(n=9, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return 3 * rng.standard_normal((n, classes)), rng.integers(0, max(2, classes), size=n)


def central_difference(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        plus = f(x)
        x[index] = original - eps
        minus = f(x)
        x[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


# ----- softmax cross-entropy -------------------------------------------------------------------
def test_softmax_cross_entropy_value_is_mean_negative_log_softmax():
    logits, labels = batch()
    expected = -np.mean(log_softmax(logits)[np.arange(len(labels)), labels])
    assert L.SoftmaxCrossEntropy().value(logits, labels) == pytest.approx(expected, rel=1e-12)


def test_softmax_cross_entropy_of_zero_logits_is_log_of_class_count():
    labels = np.arange(10)
    assert L.SoftmaxCrossEntropy().value(np.zeros((10, 10)), labels) == pytest.approx(np.log(10), rel=1e-12)
    assert L.SoftmaxCrossEntropy().value(np.zeros((3, 10), np.float32), labels[:3]) == pytest.approx(np.log(10), rel=1e-6)


def test_softmax_cross_entropy_gradient_is_probabilities_minus_onehot_over_batch():
    logits, labels = batch()
    loss = L.SoftmaxCrossEntropy()
    grad = np.empty_like(logits)
    value = loss.value_and_gradient(logits, labels, grad)
    assert value == pytest.approx(loss.value(logits, labels), rel=1e-15)
    probabilities = np.exp(log_softmax(logits))
    np.testing.assert_allclose(grad, (probabilities - np.eye(4)[labels]) / len(labels), rtol=1e-12, atol=1e-15)
    numeric = central_difference(lambda x: loss.value(x, labels), logits.copy())
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_softmax_cross_entropy_leaves_the_logits_untouched():
    logits, labels = batch()
    copy = logits.copy()
    L.SoftmaxCrossEntropy().value_and_gradient(logits, labels, np.empty_like(logits))
    np.testing.assert_array_equal(logits, copy)


def test_softmax_probabilities_and_predictions():
    logits, _ = batch()
    loss = L.SoftmaxCrossEntropy()
    np.testing.assert_allclose(loss.probabilities(logits), np.exp(log_softmax(logits)), rtol=1e-12)
    np.testing.assert_array_equal(loss.predictions(logits), logits.argmax(axis=1))


# ----- sigmoid binary cross-entropy ------------------------------------------------------------
def test_sigmoid_bce_value_matches_formula():
    logits, labels = batch(classes=1)
    p = 1 / (1 + np.exp(-logits[:, 0]))
    expected = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    assert L.SigmoidBinaryCrossEntropy().value(logits, labels) == pytest.approx(expected, rel=1e-12)
    assert L.SigmoidBinaryCrossEntropy().value(np.zeros((4, 1)), np.array([0, 1, 1, 0])) == pytest.approx(np.log(2))


def test_sigmoid_bce_gradient_is_probability_minus_target_over_batch():
    logits, labels = batch(classes=1)
    loss = L.SigmoidBinaryCrossEntropy()
    grad = np.empty_like(logits)
    loss.value_and_gradient(logits, labels, grad)
    p = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(grad, (p - labels[:, None]) / len(labels), rtol=1e-12)
    numeric = central_difference(lambda x: loss.value(x, labels), logits.copy())
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_sigmoid_probabilities_have_two_columns_and_predictions_threshold_at_zero():
    loss = L.SigmoidBinaryCrossEntropy()
    logits = np.array([[-2.0], [0.0], [3.0]])
    p = 1 / (1 + np.exp(-logits[:, 0]))
    np.testing.assert_allclose(loss.probabilities(logits), np.column_stack([1 - p, p]))
    np.testing.assert_array_equal(loss.predictions(logits), [0, 0, 1])
    assert loss.predictions(logits).dtype == np.int64


def test_loss_for_outputs_picks_bce_for_one_unit_and_softmax_otherwise():
    assert isinstance(L.loss_for_outputs(1), L.SigmoidBinaryCrossEntropy)
    assert isinstance(L.loss_for_outputs(2), L.SoftmaxCrossEntropy)
    assert isinstance(L.loss_for_outputs(10), L.SoftmaxCrossEntropy)


# ----- stability and dtype ---------------------------------------------------------------------
@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_cross_entropy_is_stable_for_huge_logits(dtype):
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, 1e4], [1e4, 1e4, 1e4]], dtype=dtype)
    labels = np.array([0, 0, 2])
    loss = L.SoftmaxCrossEntropy()
    grad = np.empty_like(logits)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss.value_and_gradient(logits, labels, grad)
        probabilities = loss.probabilities(logits)
    # per example: 0 (confident and right), 2e4 (confident and wrong), ln 3 (a three-way tie)
    assert value == pytest.approx((0 + 2e4 + np.log(3)) / 3, rel=1e-6)
    assert grad.dtype == probabilities.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(grad)) and np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_bce_is_stable_for_huge_logits(dtype):
    logits = np.array([[1e4], [1e4], [-1e4], [-1e4]], dtype=dtype)
    labels = np.array([1, 0, 0, 1])
    loss = L.SigmoidBinaryCrossEntropy()
    grad = np.empty_like(logits)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss.value_and_gradient(logits, labels, grad)
        probabilities = loss.probabilities(logits)
    assert value == pytest.approx((0 + 1e4 + 0 + 1e4) / 4, rel=1e-6)
    np.testing.assert_allclose(grad[:, 0], np.array([0, 1, 0, -1]) / 4, atol=1e-7)
    assert grad.dtype == probabilities.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(probabilities))


@pytest.mark.parametrize("loss", [L.SoftmaxCrossEntropy(), L.SigmoidBinaryCrossEntropy()], ids=lambda l: l.name)
def test_losses_keep_float32(loss):
    logits, labels = batch(classes=1 if isinstance(loss, L.SigmoidBinaryCrossEntropy) else 4)
    logits = logits.astype(np.float32)
    grad = np.empty_like(logits)
    value = loss.value_and_gradient(logits, labels, grad)
    assert isinstance(value, float)
    assert grad.dtype == np.float32 and loss.probabilities(logits).dtype == np.float32
