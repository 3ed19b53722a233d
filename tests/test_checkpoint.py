"""Checkpoints: bit-for-bit round trips, refusal of pickles, atomic writes."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import checkpoint


def trained(dtype: str, optimizer: nn.Optimizer, keep_prob: float = 0.8) -> tuple[nn.MLP, np.ndarray, np.ndarray]:
    gens = nn.make_generators(0)
    model = nn.MLP(6, [10, 7], 3, activation="tanh", keep_prob=keep_prob, dtype=dtype,
                   rng=gens.init, dropout_rng=gens.dropout)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
    nn.fit(model, optimizer, X, y, epochs=2, batch_size=16, rng=gens.shuffle)
    return model, X, y


def step(model: nn.MLP, optimizer: nn.Optimizer, X: np.ndarray, y: np.ndarray) -> None:
    model.gradient(X, y)
    optimizer.step(model.params)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make_optimizer", [lambda: nn.Adam(0.01), lambda: nn.Momentum(0.1, nesterov=True),
                                            lambda: nn.RMSprop(0.01), lambda: nn.SGD(0.1)],
                         ids=["adam", "nesterov", "rmsprop", "sgd"])
def test_round_trip_is_bit_for_bit_with_optimizer_state(tmp_path, dtype, make_optimizer):
    optimizer = make_optimizer()
    model, X, y = trained(dtype, optimizer)
    npz = nn.save(model, tmp_path / "run" / "best", optimizer=optimizer)
    assert npz == tmp_path / "run" / "best.npz"
    assert sorted(p.name for p in npz.parent.iterdir()) == ["best.json", "best.npz"]  # no temp files left

    loaded, loaded_optimizer = nn.load_with_optimizer(tmp_path / "run" / "best")
    assert loaded.config() == model.config()
    for name, value in model.parameters.items():
        assert loaded.parameters[name].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(loaded.parameters[name], value)
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))

    assert type(loaded_optimizer) is type(optimizer)
    assert loaded_optimizer.hyperparameters() == optimizer.hyperparameters()
    saved_state, loaded_state = optimizer.state_dict(), loaded_optimizer.state_dict()
    assert saved_state.keys() == loaded_state.keys()
    for key in saved_state:
        np.testing.assert_array_equal(loaded_state[key], saved_state[key])
        assert loaded_state[key].dtype == saved_state[key].dtype
    # training continues identically from the checkpoint (generators are not saved: give both the same)
    for m in (model, loaded):
        m.dropout_rng = np.random.default_rng(5)
    for _ in range(2):
        step(model, optimizer, X, y)
        step(loaded, loaded_optimizer, X, y)
    np.testing.assert_array_equal(loaded.params.data, model.params.data)


def test_save_accepts_npz_suffix_and_load_returns_the_model(tmp_path):
    model, X, _ = trained("float32", nn.SGD(0.1))
    nn.save(model, tmp_path / "model.npz")
    assert (tmp_path / "model.json").exists()
    for path in (tmp_path / "model", tmp_path / "model.npz", str(tmp_path / "model.json")):
        loaded = nn.load(path)
        assert isinstance(loaded, nn.MLP)
        np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    assert nn.load_with_optimizer(tmp_path / "model")[1] is None


def test_metadata_is_plain_json_describing_the_model(tmp_path):
    model, _, _ = trained("float64", nn.SGD(0.1))
    nn.save(model, tmp_path / "m")
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["model"] == model.config()
    assert meta["parameters"]["dense1.W"] == [6, 10]


def test_checkpoint_of_an_optimizer_that_never_stepped_loads(tmp_path):
    gens = nn.make_generators(0)
    model = nn.MLP(6, [5], 3, rng=gens.init)
    nn.save(model, tmp_path / "init", optimizer=nn.Adam(0.01))
    loaded, optimizer = nn.load_with_optimizer(tmp_path / "init")
    assert isinstance(optimizer, nn.Adam) and optimizer.steps == 0


# ----- refusing pickles ------------------------------------------------------------------------
class Payload:
    """Creates a file when unpickled: proof that the loader did (or did not) run pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


@pytest.fixture
def saved(tmp_path) -> Path:
    model, _, _ = trained("float32", nn.SGD(0.1))
    nn.save(model, tmp_path / "ckpt")
    return tmp_path / "ckpt"


def test_pickle_disguised_as_npz_is_refused(saved, tmp_path):
    marker = tmp_path / "pwned"
    saved.with_suffix(".npz").write_bytes(pickle.dumps({"dense1.W": Payload(marker)}))
    with pytest.raises(ValueError, match="pickle"):
        nn.load(saved)
    assert not marker.exists()


def test_npz_with_object_arrays_is_refused(saved, tmp_path):
    marker = tmp_path / "pwned"
    arrays = dict(np.load(saved.with_suffix(".npz")))
    arrays["dense1.W"] = np.array([Payload(marker)], dtype=object)
    with open(saved.with_suffix(".npz"), "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(ValueError, match="object arrays"):
        nn.load(saved)
    assert not marker.exists()


def test_missing_or_foreign_metadata_is_reported(saved):
    json_path = saved.with_suffix(".json")
    meta = json.loads(json_path.read_text())
    json_path.write_text(json.dumps({**meta, "format": "something.else"}))
    with pytest.raises(ValueError, match="format"):
        nn.load(saved)
    json_path.write_text("{not json")
    with pytest.raises(ValueError, match="JSON"):
        nn.load(saved)
    json_path.unlink()
    with pytest.raises(FileNotFoundError, match="json"):
        nn.load(saved)


def test_shape_mismatch_names_the_parameter(saved):
    arrays = dict(np.load(saved.with_suffix(".npz")))
    arrays["dense2.W"] = arrays["dense2.W"][:, :-1]
    with open(saved.with_suffix(".npz"), "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(ValueError, match="dense2.W"):
        nn.load(saved)


# ----- atomicity -------------------------------------------------------------------------------
def test_failed_save_leaves_the_previous_checkpoint_intact(saved, monkeypatch):
    before = {p.name: p.read_bytes() for p in saved.parent.iterdir()}
    original = nn.load(saved)

    def crash(handle, **arrays):
        handle.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    model, _, _ = trained("float32", nn.Adam(0.01))
    monkeypatch.setattr(checkpoint.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        nn.save(model, saved)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in saved.parent.iterdir()} == before  # no temp files, nothing changed
    np.testing.assert_array_equal(nn.load(saved).params.data, original.params.data)


def test_overwriting_a_checkpoint_replaces_it(saved):
    model, X, _ = trained("float32", nn.Adam(0.05))
    nn.save(model, saved)
    np.testing.assert_array_equal(nn.load(saved).forward(X), model.forward(X))


def test_checkpoint_files_get_the_umask_permissions_and_are_fsynced(saved, monkeypatch):
    import os
    import stat

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    old = os.umask(0o022)
    try:
        model, _, _ = trained("float32", nn.SGD(0.1))
        nn.save(model, saved)
    finally:
        os.umask(old)
    for suffix in (".npz", ".json"):
        assert stat.S_IMODE(saved.with_suffix(suffix).stat().st_mode) == 0o644
    assert len(synced) >= 2  # each file before its rename (and the directory after)


def test_full_disk_during_save_leaves_nothing_half_written(saved, monkeypatch):
    import errno

    before = {p.name: p.read_bytes() for p in saved.parent.iterdir()}

    def disk_full(handle, **arrays):
        handle.write(b"PK\x03\x04")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.np, "savez", disk_full)
    model, _, _ = trained("float32", nn.SGD(0.1))
    with pytest.raises(OSError, match="No space left"):
        nn.save(model, saved)
    assert {p.name: p.read_bytes() for p in saved.parent.iterdir()} == before
