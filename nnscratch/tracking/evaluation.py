"""Test-set results of a trained model, in the form the tracker and figures need (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import nnscratch as nn


@dataclass
class Evaluation:
    """Test-set results of a trained model.

    Attributes
    ----------
    metrics : dict
        ``test/loss``, ``test/acc``.
    y_true, y_pred : ndarray, shape (n_test,)
    proba : ndarray, shape (n_test, n_classes)
    matrix : ndarray, shape (n_classes, n_classes)
        Confusion matrix, rows = true class.
    """

    metrics: dict[str, float]
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray
    matrix: np.ndarray


def evaluate_test(model: nn.MLP, X: np.ndarray, y: np.ndarray) -> Evaluation:
    """Loss, accuracy, predictions and confusion matrix of ``model`` on (X (n, features), y (n,))."""
    proba = model.predict_proba(X)
    pred = proba.argmax(axis=1)
    metrics = {f"test/{k}": float(v) for k, v in nn.metrics.evaluate(model, X, y).items()}
    return Evaluation(metrics, y, pred, proba, nn.metrics.confusion_matrix(y, pred, model.n_classes))
