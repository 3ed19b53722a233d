"""End to end on real MNIST: one epoch must already generalise (runs in CI, a few seconds)."""
from __future__ import annotations

import numpy as np

import nnscratch as nn

# The issue fixes the net, the slice (10k) and the 90 % bar, not the optimizer. Plain SGD's last iterate
# after one noisy epoch lands between 86 and 91 % depending on the seed; Adam (lr 1e-3, batch 32) gives
# 91.0-92.1 % for seeds 0-5, so the test has a margin that does not hinge on one seed.
N_TRAIN = 10_000


def test_784_128_64_10_reaches_90_percent_after_one_epoch(mnist):
    assert mnist.X_train.shape == (60_000, 784) and mnist.X_test.shape == (10_000, 784)
    assert mnist.X_train.dtype == np.float32 and 0.0 <= mnist.X_train.min() and mnist.X_train.max() <= 1.0
    gens = nn.make_generators(0)
    model = nn.MLP.from_layer_sizes([784, 128, 64, 10], rng=gens.init, dropout_rng=gens.dropout)
    X, y = mnist.X_train[:N_TRAIN], mnist.y_train[:N_TRAIN]
    history = nn.fit(model, nn.Adam(lr=0.001), X, y, epochs=1, batch_size=32, rng=gens.shuffle)

    assert model.params.data.dtype == np.float32
    assert history.last["train/acc"] > 0.8
    # held out: the real test set, never seen in training
    test_acc = nn.metrics.accuracy(mnist.y_test, model.predict(mnist.X_test))
    assert test_acc > 0.90, f"test accuracy {test_acc:.4f} after one epoch on {N_TRAIN} real digits"
    cm = nn.metrics.confusion_matrix(mnist.y_test, model.predict(mnist.X_test), 10)
    assert np.all(np.diag(cm) > 0.75 * cm.sum(axis=1))  # every digit is learnt, not just the easy ones
