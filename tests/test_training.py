"""fit: determinism, metrics, callbacks, schedules, divergence, argument validation; seeding; splits."""
from __future__ import annotations

import json

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.metrics import evaluate


def blobs(n: int = 300, seed: int = 0, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian blobs in 5 dimensions."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = 3 * np.eye(3, 5)
    return (centers[y] + 0.7 * rng.standard_normal((n, 5))).astype(dtype), y


def build(seed: int = 0, keep_prob: float = 1.0, dtype: str = "float32", output_size: int = 3) -> tuple[nn.MLP, nn.Generators]:
    gens = nn.make_generators(seed)
    model = nn.MLP(5, [16, 8], output_size, keep_prob=keep_prob, dtype=dtype, rng=gens.init, dropout_rng=gens.dropout)
    return model, gens


def run(seed: int) -> tuple[nn.MLP, nn.History]:
    """A full configuration that uses every generator: split, init, dropout, shuffling."""
    model, gens = build(seed, keep_prob=0.8)
    X, y = blobs()
    X_tr, y_tr, X_val, y_val = nn.train_val_split(X, y, 0.2, gens.split)
    history = nn.fit(model, nn.Adam(0.01), X_tr, y_tr, epochs=3, batch_size=32, l2=0.01,
                     schedule=nn.schedules.Cosine(3), validation=(X_val, y_val), rng=gens.shuffle)
    return model, history


def without_time(history: nn.History) -> list[dict[str, float]]:
    return [{k: v for k, v in epoch.items() if k != "epoch_time"} for epoch in history.epochs]


# ----- determinism -----------------------------------------------------------------------------
def test_same_seed_and_config_give_identical_weights_and_metrics():
    model_a, history_a = run(seed=7)
    model_b, history_b = run(seed=7)
    np.testing.assert_array_equal(model_a.params.data, model_b.params.data)
    assert without_time(history_a) == without_time(history_b)
    model_c, history_c = run(seed=8)
    assert not np.array_equal(model_a.params.data, model_c.params.data)


def test_shuffling_rng_changes_the_result():
    X, y = blobs()
    results = []
    for shuffle_seed in (1, 2):
        model, _ = build(0)
        nn.fit(model, nn.SGD(0.1), X, y, epochs=1, batch_size=32, rng=np.random.default_rng(shuffle_seed))
        results.append(model.params.data.copy())
    assert not np.array_equal(*results)


def test_make_generators_is_reproducible_and_streams_are_independent():
    a, b = nn.make_generators(3), nn.make_generators(3)
    draws_a = [g.random(4) for g in (a.init, a.dropout, a.shuffle, a.split)]
    draws_b = [g.random(4) for g in (b.init, b.dropout, b.shuffle, b.split)]
    for x, y in zip(draws_a, draws_b):
        np.testing.assert_array_equal(x, y)
    assert len({tuple(d) for d in draws_a}) == 4
    assert not np.array_equal(nn.make_generators(4).init.random(4), draws_a[0])


# ----- what fit computes -----------------------------------------------------------------------
def test_full_batch_epoch_is_one_gradient_step():
    X, y = blobs(50)
    model, _ = build(0, dtype="float64")
    manual, _ = build(0, dtype="float64")
    nn.fit(model, nn.SGD(0.5), X, y, epochs=1, batch_size=None, l2=0.1)
    manual.gradient(X, y, l2=0.1)
    nn.SGD(0.5).step(manual.params)
    np.testing.assert_allclose(model.params.data, manual.params.data, rtol=1e-12, atol=1e-15)


def test_train_metrics_average_over_every_example_once():
    """With a negligible lr the reported epoch loss/accuracy equal those of the initial model on all the
    data, so the uneven last batch (10 = 4 + 4 + 2) is counted exactly once."""
    X, y = blobs(10)
    model, gens = build(0, dtype="float64")
    loss, acc = model.loss(X, y), nn.metrics.accuracy(y, model.predict(X))
    history = nn.fit(model, nn.SGD(1e-12), X, y, epochs=1, batch_size=4, rng=gens.shuffle)
    assert history.last["train/loss"] == pytest.approx(loss, rel=1e-9)
    assert history.last["train/acc"] == acc


def test_full_batch_train_loss_includes_the_l2_penalty():
    X, y = blobs(40)
    model, _ = build(0, dtype="float64")
    expected = model.loss(X, y, l2=2.0)
    history = nn.fit(model, nn.SGD(1e-12), X, y, epochs=1, l2=2.0)
    assert history.last["train/loss"] == pytest.approx(expected, rel=1e-9)


def test_learns_separable_blobs_and_reports_validation_metrics():
    X, y = blobs(400)
    model, gens = build(0)
    X_tr, y_tr, X_val, y_val = nn.train_val_split(X, y, 0.25, gens.split)
    history = nn.fit(model, nn.SGD(0.1), X_tr, y_tr, epochs=10, batch_size=16, validation=(X_val, y_val),
                     rng=gens.shuffle)
    assert len(history) == 10
    assert set(history.last) == {"train/loss", "train/acc", "val/loss", "val/acc", "lr", "epoch_time"}
    assert history["train/loss"][-1] < history["train/loss"][0]
    assert history.last["train/acc"] > 0.95 and history.last["val/acc"] > 0.95
    final = evaluate(model, X_val, y_val)  # validation metrics are those of the model after the epoch
    assert history.last["val/loss"] == pytest.approx(final["loss"], rel=1e-6)
    assert history.last["val/acc"] == final["acc"]


def test_metrics_without_validation_and_history_accessors():
    X, y = blobs(60)
    model, gens = build(0)
    history = nn.fit(model, nn.SGD(0.1), X, y, epochs=3, batch_size=20, rng=gens.shuffle)
    assert set(history.last) == {"train/loss", "train/acc", "lr", "epoch_time"}
    assert history["val/acc"] == []
    assert history.as_dict()["train/loss"] == history["train/loss"] == [e["train/loss"] for e in history.epochs]
    assert history.last == history.epochs[-1]
    json.dumps(history.as_dict())  # plain floats, ready for tracking
    assert all(type(v) is float for epoch in history.epochs for v in epoch.values())
    assert nn.History().last == {}


def test_float32_model_trained_on_float64_data_stays_float32():
    X, y = blobs(60, dtype=np.float64)
    model, gens = build(0)
    nn.fit(model, nn.Adam(0.01), X, y, epochs=1, batch_size=16, rng=gens.shuffle)
    assert model.params.data.dtype == model.params.grad.dtype == np.float32
    assert X.dtype == np.float64  # the caller's array is not modified


def test_sigmoid_output_model_trains():
    X, y = blobs(200)
    y = (y == 0).astype(np.int64)
    model, gens = build(0, output_size=1)
    history = nn.fit(model, nn.SGD(0.2), X, y, epochs=5, batch_size=16, rng=gens.shuffle)
    assert history.last["train/acc"] > 0.95


# ----- schedules and callbacks -----------------------------------------------------------------
def test_schedule_sets_lr_each_epoch_and_base_lr_is_restored():
    X, y = blobs(40)
    model, gens = build(0)
    optimizer, schedule = nn.SGD(0.1), nn.schedules.StepDecay(step_size=2, gamma=0.5)
    history = nn.fit(model, optimizer, X, y, epochs=5, batch_size=8, schedule=schedule, rng=gens.shuffle)
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert optimizer.lr == 0.1


class Recorder:
    def __init__(self, stop_at: int | None = None, fail_at: int | None = None) -> None:
        self.calls: list[tuple] = []
        self.stop_at, self.fail_at = stop_at, fail_at

    def on_train_begin(self, model):
        self.calls.append(("begin", model))

    def on_epoch_end(self, epoch, metrics):
        self.calls.append(("epoch", epoch, dict(metrics)))
        if epoch == self.stop_at:
            raise nn.StopTraining
        if epoch == self.fail_at:
            raise KeyError("pruned")

    def on_train_end(self, history):
        self.calls.append(("end", history))


def test_callbacks_are_called_in_order_with_one_based_epochs():
    X, y = blobs(40)
    model, gens = build(0)
    recorder = Recorder()

    class OnlyEpochs:  # a callback may implement any subset of the hooks
        epochs: list[int] = []

        def on_epoch_end(self, epoch, metrics):
            self.epochs.append(epoch)

    only = OnlyEpochs()
    history = nn.fit(model, nn.SGD(0.1), X, y, epochs=3, batch_size=8, rng=gens.shuffle, callbacks=[recorder, only])
    assert [c[0] for c in recorder.calls] == ["begin", "epoch", "epoch", "epoch", "end"]
    assert recorder.calls[0][1] is model and recorder.calls[-1][1] is history
    assert [c[1] for c in recorder.calls[1:4]] == [1, 2, 3] == only.epochs
    assert [c[2] for c in recorder.calls[1:4]] == history.epochs


def test_stop_training_ends_cleanly_and_keeps_the_history():
    X, y = blobs(40)
    model, gens = build(0)
    recorder = Recorder(stop_at=2)
    history = nn.fit(model, nn.SGD(0.1), X, y, epochs=10, batch_size=8, rng=gens.shuffle, callbacks=[recorder])
    assert len(history) == 2
    assert recorder.calls[-1] == ("end", history)


def test_other_callback_exceptions_propagate():
    X, y = blobs(40)
    model, gens = build(0)
    with pytest.raises(KeyError, match="pruned"):
        nn.fit(model, nn.SGD(0.1), X, y, epochs=5, batch_size=8, rng=gens.shuffle, callbacks=[Recorder(fail_at=1)])


# ----- divergence and validation ---------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_huge_learning_rate_raises_diverged_error(seed):
    # Only a non-finite loss counts as divergence, and the fused losses stay finite for huge logits, so the
    # model must really overflow: one wide ReLU layer with lr=1e6 does within the first epoch.
    X, y = blobs(200)
    gens = nn.make_generators(seed)
    model = nn.MLP(5, [32], 3, rng=gens.init, dropout_rng=gens.dropout)
    with pytest.raises(nn.DivergedError, match="lr") as info:
        nn.fit(model, nn.SGD(1e6), X, y, epochs=5, batch_size=32, rng=gens.shuffle)
    assert isinstance(info.value, RuntimeError)
    assert info.value.epoch == 1 and info.value.metric == "train/loss"
    assert not np.isfinite(info.value.value)


@pytest.mark.parametrize("kwargs, argument", [
    ({"epochs": 0}, "epochs"),
    ({"epochs": 1, "batch_size": 0}, "batch_size"),
    ({"epochs": 1, "l2": -0.1}, "l2"),
    ({"epochs": 1, "l2": float("nan")}, "l2"),
])
def test_fit_rejects_bad_settings_naming_the_argument(kwargs, argument):
    X, y = blobs(20)
    model, _ = build(0)
    with pytest.raises(ValueError, match=rf"^{argument}="):
        nn.fit(model, nn.SGD(0.1), X, y, **kwargs)


@pytest.mark.parametrize("case, argument", [
    ("wide_X", r"\bX\b"),
    ("short_y", r"\by\b"),
    ("label_too_big", r"\by\b"),
    ("negative_label", r"\by\b"),
    ("wide_validation_X", r"\bvalidation\b"),
    ("short_validation_y", r"\bvalidation\b"),
    ("validation_label_too_big", r"\bvalidation\b"),
    ("negative_validation_label", r"\bvalidation\b"),
])
def test_fit_rejects_bad_data_naming_the_argument(case, argument):
    X, y = blobs(20)
    X_val, y_val = blobs(10, seed=1)
    bad = {
        "wide_X": dict(X=np.zeros((20, 6))),
        "short_y": dict(y=y[:-1]),
        "label_too_big": dict(y=np.where(y == 2, 3, y)),
        "negative_label": dict(y=np.where(y == 2, -1, y)),
        "wide_validation_X": dict(validation=(np.zeros((10, 6)), y_val)),
        "short_validation_y": dict(validation=(X_val, y_val[:-1])),
        "validation_label_too_big": dict(validation=(X_val, np.where(y_val == 2, 3, y_val))),
        "negative_validation_label": dict(validation=(X_val, np.where(y_val == 2, -1, y_val))),
    }[case]
    arguments = {"X": X, "y": y, "validation": (X_val, y_val), **bad}
    model, _ = build(0)
    before = model.params.data.copy()
    with pytest.raises(ValueError, match=argument):
        nn.fit(model, nn.SGD(0.1), arguments["X"], arguments["y"], epochs=1,
               validation=arguments["validation"])
    np.testing.assert_array_equal(model.params.data, before)  # rejected before any training


# ----- train/validation split ------------------------------------------------------------------
def test_train_val_split_partitions_the_data_reproducibly():
    X = np.arange(100, dtype=np.float32).reshape(50, 2)
    y = np.arange(50)
    X_tr, y_tr, X_val, y_val = nn.train_val_split(X, y, 0.2, np.random.default_rng(0))
    assert len(y_val) == 10 and len(y_tr) == 40
    assert sorted(np.concatenate([y_tr, y_val]).tolist()) == list(range(50))
    np.testing.assert_array_equal(X_tr[:, 0], 2 * y_tr)  # rows stay paired with their labels
    np.testing.assert_array_equal(X_val[:, 0], 2 * y_val)
    again = nn.train_val_split(X, y, 0.2, np.random.default_rng(0))
    np.testing.assert_array_equal(again[3], y_val)
    assert len(nn.train_val_split(X, y, 0.0, np.random.default_rng(0))[3]) == 0


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_train_val_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        nn.train_val_split(np.zeros((4, 2)), np.zeros(4), fraction, np.random.default_rng(0))


def test_runaway_finite_loss_is_divergence_with_a_clear_reason():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((200, 5)).astype(np.float32), rng.integers(0, 3, 200)
    fit = lambda ratio: nn.fit(nn.MLP(5, [32], 3, rng=nn.make_generators(0).init), nn.SGD(10.0), X, y, epochs=5,
                               batch_size=32, rng=nn.make_generators(0).shuffle, max_loss_ratio=ratio)
    with pytest.raises(nn.DivergedError, match=r"over 10 x the chance-level loss ln\(3\) = 1.1 \(max_loss_ratio\)") as info:
        fit(10.0)
    assert info.value.epoch == 1 and np.isfinite(info.value.value) and info.value.value > 11
    history = fit(None)  # off: only non-finite losses count
    assert len(history) == 5 and max(history["train/loss"]) > 100


def test_loss_far_above_the_first_epochs_is_divergence():
    X, y = blobs(300)
    model, gens = build(0)

    class Sabotage:  # after epoch 1, make the output layer confidently wrong
        def on_epoch_end(self, epoch, metrics):
            if epoch == 1:
                model.parameters[f"dense{model.n_layers}.W"][...] *= -30

    with pytest.raises(nn.DivergedError, match=r"over 10 x the first epoch's 0\.35") as info:
        nn.fit(model, nn.SGD(0.5), X, y, epochs=4, batch_size=16, rng=gens.shuffle, callbacks=[Sabotage()])
    assert info.value.epoch == 2 and 3.5 < info.value.value


def test_max_loss_ratio_must_exceed_one():
    X, y = blobs(20)
    model, _ = build(0)
    with pytest.raises(ValueError, match=r"^max_loss_ratio=1"):
        nn.fit(model, nn.SGD(0.1), X, y, epochs=1, max_loss_ratio=1)
