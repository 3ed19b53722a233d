"""Classification metrics on a hand-worked example."""
from __future__ import annotations

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import metrics as M

# true:  0 0 1 1 2 2 2
# pred:  0 1 1 1 2 0 2
Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0, 2])
CONFUSION = np.array([
    [1, 1, 0],  # true 0: once right, once called 1
    [0, 2, 0],  # true 1: always right
    [1, 0, 2],  # true 2: once called 0
])


def test_accuracy():
    assert M.accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 7)
    assert M.accuracy([1, 2], [1, 2]) == 1.0
    assert np.isnan(M.accuracy(np.array([]), np.array([])))


def test_confusion_matrix_rows_are_true_classes():
    cm = M.confusion_matrix(Y_TRUE, Y_PRED, 3)
    np.testing.assert_array_equal(cm, CONFUSION)
    assert cm.dtype == np.int64 and cm.sum() == len(Y_TRUE)
    # classes absent from the data still get a row and a column
    np.testing.assert_array_equal(M.confusion_matrix([1, 1], [1, 0], 4), [[0] * 4, [1, 1, 0, 0], [0] * 4, [0] * 4])


def test_precision_recall_f1_by_hand():
    scores = M.precision_recall_f1(CONFUSION)
    # precision = diagonal / column sums (2, 3, 2); recall = diagonal / row sums (2, 2, 3)
    np.testing.assert_allclose(scores["precision"], [1 / 2, 2 / 3, 1.0])
    np.testing.assert_allclose(scores["recall"], [1 / 2, 1.0, 2 / 3])
    # F1 = 2 p r / (p + r): 0.5, 0.8, 0.8
    np.testing.assert_allclose(scores["f1"], [0.5, 0.8, 0.8])
    np.testing.assert_array_equal(scores["support"], [2, 2, 3])
    assert scores["support"].dtype == np.int64


@pytest.mark.filterwarnings("error")
def test_undefined_scores_are_zero_without_warnings():
    # class 2 is never predicted and never occurs; class 1 is predicted but never right
    cm = M.confusion_matrix([0, 0, 1], [0, 1, 0], 3)
    scores = M.precision_recall_f1(cm)
    np.testing.assert_allclose(scores["precision"], [0.5, 0.0, 0.0])
    np.testing.assert_allclose(scores["recall"], [0.5, 0.0, 0.0])
    np.testing.assert_allclose(scores["f1"], [0.5, 0.0, 0.0])


def test_evaluate_matches_loss_and_accuracy_of_the_model():
    gens = nn.make_generators(0)
    model = nn.MLP(4, [6], 3, rng=gens.init, dropout_rng=gens.dropout, keep_prob=0.5)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 4)).astype(np.float32), rng.integers(0, 3, 50)
    result = M.evaluate(model, X, y)
    assert set(result) == {"loss", "acc"}
    assert result["loss"] == pytest.approx(model.loss(X, y), rel=1e-6)  # inference mode: no dropout
    assert result["acc"] == M.accuracy(y, model.predict(X))
    assert M.evaluate(model, X, y) == result
