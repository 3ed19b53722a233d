"""Classifying hand-made digit images with models from a path, a run id and the model registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.model_uri import ModelNotFoundError, load_model, looks_like_uri
from nnscratch.predict import main, top_k
from nnscratch.registry import register_run_model
from tests.view_support import EXAMPLES, REPO, sweep_store

THREE = EXAMPLES / "three_dark_on_light.png"
SEVEN = EXAMPLES / "seven_light_on_dark.png"


@pytest.fixture(scope="module")
def store(mnist):  # mnist: skip (fail under CI) when the real data is unavailable
    return sweep_store()


def labels(stdout: str) -> dict[str, str]:
    """``{file name: predicted label}`` from predict's output lines ``path: label  (...)``."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("model:"):
            continue
        path, _, rest = line.partition(": ")
        out[Path(path).name] = rest.split()[0]
    return out


def test_top_k_orders_by_probability():
    assert top_k(np.array([0.1, 0.6, 0.3]), ["a", "b", "c"], k=2) == [("b", 0.6), ("c", 0.3)]
    assert len(top_k(np.array([0.4, 0.6]), ["x", "y"])) == 2  # k larger than the class count


@pytest.mark.parametrize("spec, expected", [("models:/digits@champion", True), ("runs:/abc/model", True),
                                            ("model.npz", False), ("C:/x/model", False)])
def test_looks_like_uri(spec, expected):
    assert looks_like_uri(spec) is expected


def test_local_checkpoint_with_default_class_names(tmp_path, capsys):
    gens = nn.make_generators(0)
    nn.save(nn.MLP(784, [8], 10, rng=gens.init, dropout_rng=gens.dropout), tmp_path / "tiny")
    assert main(["--model", str(tmp_path / "tiny"), str(THREE)]) == 0
    out = capsys.readouterr().out
    assert "784 -> 8 -> 10" in out
    line = out.splitlines()[1]
    assert line.startswith(f"{THREE}: ") and line.count("%") == 3


def test_missing_model_exits_2(tmp_path, capsys):
    assert main(["--model", str(tmp_path / "nothing"), str(THREE)]) == 2
    assert "neither an existing path nor a model URI" in capsys.readouterr().err
    with pytest.raises(ModelNotFoundError, match="no nnscratch checkpoint"):
        load_model(str(tmp_path))


def test_run_id_classifies_the_shipped_examples(store, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)
    assert main(["--run", store.child_ids[0], str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert f"run {store.child_ids[0]}" in out
    assert labels(out) == {"seven_light_on_dark.png": "7", "three_dark_on_light.png": "3"}


def test_unreadable_files_are_reported_and_the_rest_still_run(store, tmp_path, capsys):
    (tmp_path / "notes.png").write_text("not an image")
    argv = ["--run", store.child_ids[1], "--tracking-uri", store.tracking_uri,
            str(tmp_path / "notes.png"), str(EXAMPLES / "*.png"), str(tmp_path / "missing.jpg")]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert labels(captured.out) == {"seven_light_on_dark.png": "7", "three_dark_on_light.png": "3"}
    assert "notes.png is not a readable image" in captured.err
    assert "cannot open" in captured.err and "missing.jpg" in captured.err


def test_checkpoint_artifact_on_disk_carries_class_names(store, capsys):
    assert main(["--model", str(store.checkpoint(store.child_ids[0])), "--top", "1", str(SEVEN)]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.startswith(f"{SEVEN}: 7  (7 ") and line.count("%") == 1


def test_registry_alias_and_version(store, capsys):
    version = register_run_model(store.child_ids[0], "view-digits", alias="champion",
                                 tracking_uri=store.tracking_uri)
    for ref in ("models:/view-digits@champion", f"models:/view-digits/{version.version}"):
        assert main(["--model", ref, "--tracking-uri", store.tracking_uri, str(THREE), str(SEVEN)]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"model: {ref} (784 -> 64 -> 10)")
        assert labels(out) == {"three_dark_on_light.png": "3", "seven_light_on_dark.png": "7"}


def test_unknown_run_and_registered_name_exit_2(store, capsys):
    assert main(["--run", "0" * 32, "--tracking-uri", store.tracking_uri, str(THREE)]) == 2
    assert "no run 000" in capsys.readouterr().err
    assert main(["--model", "models:/no-such-model@x", "--tracking-uri", store.tracking_uri, str(THREE)]) == 2
    assert "cannot download models:/no-such-model@x" in capsys.readouterr().err


def test_command_line_from_a_fresh_shell(store):
    """What the README promises: ``python -m nnscratch.predict --run <id> some_digit.png``."""
    done = subprocess.run([sys.executable, "-m", "nnscratch.predict", "--run", store.child_ids[1],
                           str(THREE), str(SEVEN)], cwd=REPO, env=store.env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert labels(done.stdout) == {"three_dark_on_light.png": "3", "seven_light_on_dark.png": "7"}
    assert "Downloading artifacts" not in done.stderr


# ----- reading only the checkpoint's own files -------------------------------------------------
def tiny_checkpoint(directory: Path, n_classes: int = 10) -> Path:
    gens = nn.make_generators(0)
    nn.save(nn.MLP(784, [8], n_classes, rng=gens.init, dropout_rng=gens.dropout), directory / "model")
    return directory / "model"


def test_class_names_elsewhere_in_the_tree_are_not_read(tmp_path, capsys):
    tiny_checkpoint(tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "class_names.json").write_text(json.dumps(["dog"] * 10))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "class_names.json").write_text("{not json")
    assert main(["--model", str(tmp_path), str(THREE)]) == 0
    assert "dog" not in capsys.readouterr().out


def test_bad_class_names_beside_the_checkpoint_name_the_file(tmp_path, capsys):
    tiny_checkpoint(tmp_path)
    (tmp_path / "class_names.json").write_text("{not json")
    assert main(["--model", str(tmp_path / "model"), str(THREE)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "class_names.json") in err
    (tmp_path / "class_names.json").write_text(json.dumps(["a", "b"]))
    assert main(["--model", str(tmp_path / "model"), str(THREE)]) == 2
    assert "class_names.json: class names must be a list of 10 labels" in capsys.readouterr().err


def test_checkpoints_deeper_in_the_tree_are_not_searched(tmp_path):
    tiny_checkpoint(tmp_path / "a" / "b" / "c")
    with pytest.raises(ModelNotFoundError, match="no nnscratch checkpoint"):
        load_model(str(tmp_path))


@pytest.mark.parametrize("meta", ["{not json", "[1, 2]", '{"format": "nnscratch.mlp", "model": 3}',
                                  '{"format": "nnscratch.mlp", "model": {"input_size": "x"}}',
                                  '{"format": "nnscratch.mlp", "format_version": "1", "model": {}}',
                                  '{"format": "nnscratch.mlp", "model": {"input_size": 784, "hidden_sizes": [8],'
                                  ' "output_size": 10, "activation": "nope"}}',
                                  '{"format": "nnscratch.mlp", "model": {"input_size": 784, "hidden_sizes": [8],'
                                  ' "output_size": 10}, "optimizer": {"name": "adam", "hyperparameters": {"x": 1}}}'])
def test_malformed_checkpoint_json_exits_2_with_one_line_naming_it(tmp_path, capsys, meta):
    base = tiny_checkpoint(tmp_path)
    base.with_suffix(".json").write_text(meta)
    assert main(["--model", str(base), str(THREE)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(base.with_suffix(".json")) in err, err


def test_shapes_are_checked_before_allocating(tmp_path, capsys, monkeypatch):
    base = tiny_checkpoint(tmp_path)
    meta = json.loads(base.with_suffix(".json").read_text())
    meta["model"]["hidden_sizes"] = [10**9]  # would allocate terabytes
    base.with_suffix(".json").write_text(json.dumps(meta))
    allocated = []
    monkeypatch.setattr(nn.MLP, "from_config", classmethod(lambda cls, config: allocated.append(config)))
    assert main(["--model", str(base), str(THREE)]) == 2
    assert "dense1.W expected shape (784, 1000000000), found (784, 8)" in capsys.readouterr().err
    assert not allocated


def test_unused_npz_members_are_not_decompressed(tmp_path, monkeypatch):
    base = tiny_checkpoint(tmp_path)
    arrays = dict(np.load(base.with_suffix(".npz")))
    with open(base.with_suffix(".npz"), "wb") as handle:
        np.savez_compressed(handle, **arrays, bomb=np.zeros(50_000_000, np.uint8))  # 50 MB of zeros, ~50 KB
    read = []
    original = np.lib.npyio.NpzFile.__getitem__
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", lambda self, key: read.append(key) or original(self, key))
    load_model(str(base))
    assert "bomb" not in read and sorted(read) == ["dense1.W", "dense1.b", "dense2.W", "dense2.b"]
