"""Figure functions on synthetic arrays and small untrained networks (no accuracy claims)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import nnscratch as nn
from nnscratch import figures as F
from nnscratch.figures.confusion import row_rates
from nnscratch.figures.network import units_as_grid

NAMES = [str(i) for i in range(10)]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def model() -> nn.MLP:
    gens = nn.make_generators(0)
    return nn.MLP(784, [12, 9, 6], 10, rng=gens.init, dropout_rng=gens.dropout)


def png_size(fig: Figure, tmp_path) -> tuple[int, int]:
    """Save through Agg and return the PNG's pixel size (proves it renders)."""
    path = F.save_figure(fig, tmp_path / "fig")
    assert path.suffix == ".png"
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def image_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.images]


def tiles(fig: Figure) -> list[tuple[str, np.ndarray]]:
    """(caption, image) of each tile of a tiled figure (one axes: a mosaic, a frame and a caption per tile)."""
    (ax,) = image_axes(fig)
    mosaic = ax.images[0].get_array()
    boxes = [path.get_extents() for path in ax.collections[0].get_paths()]
    cut = [mosaic[round(b.y0 + 0.5):round(b.y1 + 0.5), round(b.x0 + 0.5):round(b.x1 + 0.5)] for b in boxes]
    return list(zip([t.get_text() for t in ax.texts], cut))


def test_import_leaves_pyplot_unloaded():
    code = "import sys, nnscratch.figures; assert 'matplotlib.pyplot' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_learning_curves_plots_every_series_per_panel(tmp_path):
    history = {"train/loss": [1.0, 0.5, 0.25], "val/loss": [1.1, 0.6, 0.4],
               "train/acc": [0.5, 0.7, 0.9], "val/acc": [0.4, 0.6, 0.8], "lr": [0.1, 0.1, 0.1]}
    fig = F.learning_curves(history, title="run 7")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy"
    lines = {line.get_label(): line for line in loss_ax.lines + acc_ax.lines}
    assert set(lines) == {"train/loss", "val/loss", "train/acc", "val/acc"}
    np.testing.assert_allclose(lines["val/acc"].get_ydata(), history["val/acc"])
    np.testing.assert_array_equal(lines["val/acc"].get_xdata(), [1, 2, 3])
    assert fig.get_suptitle() == "run 7"
    assert png_size(fig, tmp_path)[0] > 500


def test_learning_curves_loss_only_has_one_panel():
    fig = F.learning_curves({"train/loss": [3.0, 2.0]})
    assert len(fig.axes) == 1


def test_learning_curves_without_known_metrics_says_so():
    fig = F.learning_curves({"lr": [0.1]}, title="x")
    assert "no loss or accuracy" in fig.axes[0].texts[0].get_text()


def test_overlay_draws_one_line_per_run_having_the_metric():
    histories = {"trial 0": {"val/acc": [0.1, 0.2]}, "trial 1": {"val/acc": [0.3, 0.5, 0.6]},
                 "trial 2": {"train/acc": [0.9]}}
    fig = F.overlay_learning_curves(histories, metric="val/acc")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["1. trial 0", "2. trial 1"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [0.3, 0.5, 0.6])
    assert "2 runs" in ax.get_title()
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1  # legend outside the plot


def test_overlay_names_the_top_runs_and_greys_the_rest():
    histories = {f"trial-{i:03d}": {"val/acc": [0.5, 0.6 - i / 100]} for i in range(8)}
    (ax,) = F.overlay_learning_curves(histories, metric="val/acc").axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"{i + 1}. trial-{i:03d}" for i in range(5)] + ["3 other runs"]
    assert ax.xaxis.get_major_locator()._integer  # epochs 1, 2: no fractional ticks


def test_row_rates_sum_to_one_and_keep_empty_rows_zero():
    m = np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    rates = row_rates(m)
    np.testing.assert_allclose(rates.sum(axis=1), [1, 0, 1])
    np.testing.assert_allclose(rates[0], [0.75, 0.25, 0.0])


def test_confusion_matrix_colours_the_errors_and_annotates_counts(tmp_path):
    from nnscratch.figures.confusion import DIAGONAL_COLOR, confusion_cells, reds

    m = np.array([[95, 5, 0], [1, 99, 0], [0, 2, 98]])
    cells = confusion_cells(m, ["cat", "dog", "owl"])
    assert cells.texts == [["95\n95%", "5", "·"], ["1", "99\n99%", "·"], ["·", "2", "98\n98%"]]
    assert cells.vmax == pytest.approx(0.05)  # the largest error sets the scale, not the diagonal
    assert {cells.fills[i][i] for i in range(3)} == {DIAGONAL_COLOR}
    assert cells.fills[0][1] == tuple(reds(1.0)) and cells.text_colors[0][1] == "white"  # the worst error
    assert cells.fills[0][2] == tuple(reds(0.0))  # no error: the palest red
    assert "accuracy 97.33%" in cells.title
    picture = F.confusion_matrix(m, ["cat", "dog", "owl"])
    assert picture.mode == "RGB" and picture.width >= 400
    colours = {colour for _, colour in picture.getcolors(maxcolors=1 << 16)}
    assert tuple(reds(1.0)) in colours and (0xDF, 0xE7, 0xDC) in colours  # the cells are drawn
    path = F.save_figure(picture, tmp_path / "confusion")
    assert path.suffix == ".png" and Image.open(path).size == picture.size


def test_confusion_matrix_needs_no_matplotlib():
    """A sweep worker draws it without importing matplotlib (a second per process)."""
    code = ("import sys, numpy as np; from nnscratch.figures import confusion_matrix; "
            "confusion_matrix(np.eye(10, dtype=int), list('0123456789')); print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_confusion_matrix_rejects_mismatched_names():
    with pytest.raises(ValueError, match="3 class names"):
        F.confusion_matrix(np.eye(2, dtype=int), ["a", "b", "c"])


def test_dataset_preview_titles_tiles_with_class_names(rng, tmp_path):
    images = rng.random((20, 784), dtype=np.float32)
    labels = np.arange(20) % 10
    fig = F.dataset_preview(images, labels, NAMES, rows=2, cols=4)
    shown = tiles(fig)
    assert [caption for caption, _ in shown] == [NAMES[i] for i in labels[:8]]
    np.testing.assert_array_equal(shown[3][1], images[3].reshape(28, 28))
    assert len(fig.axes) == 1  # one mosaic, not a subplot per tile
    png_size(fig, tmp_path)


def test_dataset_preview_with_fewer_images_than_cells(rng):
    fig = F.dataset_preview(rng.random((2, 4, 4)), [0, 1], ["a", "b"], image_shape=(4, 4))
    assert [caption for caption, _ in tiles(fig)] == ["a", "b"] and "2 samples" in fig.get_suptitle()


def test_misclassified_grid_shows_only_mistakes_most_confident_first(rng, tmp_path):
    images = rng.random((6, 784))
    true = np.array([0, 1, 2, 3, 4, 5])
    pred = np.array([0, 7, 2, 8, 9, 5])
    confidence = np.array([0.99, 0.6, 0.9, 0.95, 0.7, 0.5])
    fig = F.misclassified_grid(images, true, pred, confidence, NAMES)
    shown = tiles(fig)
    assert [caption for caption, _ in shown] == ["true 3\npred 8 (95%)", "true 4\npred 9 (70%)", "true 1\npred 7 (60%)"]
    np.testing.assert_allclose(shown[0][1], images[3].reshape(28, 28), rtol=1e-6)
    assert "3 of 3 (of 6 images)" in fig.get_suptitle()
    png_size(fig, tmp_path)


def test_misclassified_grid_takes_probabilities_and_limits_count(rng):
    proba = rng.dirichlet(np.ones(10), size=40)
    pred = proba.argmax(axis=1)
    true = (pred + 1) % 10
    fig = F.misclassified_grid(rng.random((40, 784)), true, pred, proba, NAMES, max_images=5)
    top = np.sort(proba.max(axis=1))[::-1][:5]
    assert [caption.split("(")[1] for caption, _ in tiles(fig)] == [f"{c:.0%})" for c in top]


def test_misclassified_grid_with_no_mistakes_says_so():
    fig = F.misclassified_grid(np.zeros((3, 784)), [1, 2, 3], [1, 2, 3], np.ones(3), NAMES)
    assert "no misclassified images among 3" in fig.axes[0].texts[0].get_text()


def test_misclassified_grid_rejects_length_mismatch():
    with pytest.raises(ValueError, match="differ in length"):
        F.misclassified_grid(np.zeros((3, 784)), [1, 2], [1, 2], np.ones(2), NAMES)


def test_units_as_grid_pads_with_nan():
    grid = units_as_grid(np.arange(5.0))
    assert grid.shape == (2, 3)
    np.testing.assert_array_equal(grid.ravel()[:5], np.arange(5.0))
    assert np.isnan(grid.ravel()[5])


def test_hidden_activations_draws_every_layer(model, rng, tmp_path):
    image = rng.random(784, dtype=np.float32)
    fig = F.hidden_activations(model, image)
    tiles = image_axes(fig)
    assert len(tiles) == 1 + 3  # input + three hidden layers
    acts = model.hidden_activations(image[None, :])
    for ax, act in zip(tiles[1:], acts):
        shown = np.asarray(ax.images[0].get_array(), dtype=float).ravel()[: act.size]
        np.testing.assert_allclose(shown, act.ravel(), rtol=1e-6)
        assert f"{act.size} units" in ax.get_title()
    bars = [ax for ax in fig.axes if ax.patches][0]
    heights = [p.get_height() for p in bars.patches]
    np.testing.assert_allclose(heights, model.predict_proba(image[None, :])[0], rtol=1e-6)
    png_size(fig, tmp_path)


def test_hidden_activations_of_an_eight_layer_net(rng):
    gens = nn.make_generators(1)
    deep = nn.MLP(784, [16] * 8, 10, rng=gens.init, dropout_rng=gens.dropout)
    fig = F.hidden_activations(deep, rng.random((28, 28)))
    assert len(image_axes(fig)) == 9
    assert "8 hidden layers" in fig.get_suptitle()


def test_first_layer_weights_tiles_are_weight_columns(model, tmp_path):
    fig = F.first_layer_weights(model, max_units=5)
    (ax,) = image_axes(fig)
    mosaic = np.asarray(ax.images[0].get_array())
    assert mosaic.shape == (2 * 29 - 1, 3 * 29 - 1)  # 5 tiles on a 2 x 3 grid, 1-pixel gaps
    w = model.parameters["dense1.W"]
    tile = mosaic[29:57, 29:57]  # unit 4: second row, second column
    np.testing.assert_allclose(tile, w[:, 4].reshape(28, 28) / np.abs(w[:, 4]).max(), rtol=1e-6)
    assert np.isnan(mosaic[28]).all() and np.isnan(mosaic[29:, 58:]).all()  # gap row, unused sixth tile
    assert ax.images[0].get_clim() == (-1.0, 1.0)
    assert "5 of 12 units" in fig.get_suptitle()
    png_size(fig, tmp_path)


def test_first_layer_weights_rejects_wrong_image_shape(model):
    with pytest.raises(ValueError, match="784 inputs"):
        F.first_layer_weights(model, image_shape=(10, 10))


def test_pca_plane_projects_onto_leading_directions(rng):
    # data spread mostly along e0, then e1, tiny elsewhere
    X = rng.standard_normal((500, 6)) * np.array([10.0, 3.0, 0.1, 0.1, 0.1, 0.1]) + 5.0
    plane = F.PCAPlane.fit(X)
    np.testing.assert_allclose(np.abs(plane.components[:, :2]), np.eye(2), atol=0.02)
    Z = plane.project(X)
    assert Z.shape == (500, 2)
    np.testing.assert_allclose(plane.project(plane.lift(Z)), Z, atol=1e-9)


class _Linear:
    """A fixed linear classifier: class = argmax(X @ W); lets the regions be checked by hand."""

    def __init__(self, W: np.ndarray):
        self.W = W

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(X @ self.W, axis=1)


def test_recorder_regions_are_the_models_predictions_on_the_plane(rng):
    X = rng.standard_normal((200, 4)) * np.array([5.0, 2.0, 0.1, 0.1])
    y = (X[:, 0] > 0).astype(int)
    model = _Linear(np.array([[1.0, -1.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))
    rec = F.DecisionRegionRecorder(X, y, every=1, grid_size=10)
    frame = rec.snapshot(model, 0)
    z1 = np.linspace(rec.extent[0], rec.extent[1], 10)
    z2 = np.linspace(rec.extent[2], rec.extent[3], 10)
    # regions[i, j] is the class of the plane point (z1[j], z2[i]), drawn with origin="lower"
    for i, j in [(0, 0), (0, 9), (9, 0), (4, 7), (9, 9)]:
        x0 = rec.plane.lift(np.array([[z1[j], z2[i]]]))[0, 0]
        assert frame.regions[i, j] == (0 if x0 >= 0 else 1)
    assert set(np.unique(frame.regions)) == {0, 1}
    assert rec.points.shape == (200, 2)


def test_training_animation_writes_gif_with_a_frame_per_snapshot(rng, tmp_path):
    gens = nn.make_generators(0)
    model = nn.MLP(784, [8], 3, rng=gens.init, dropout_rng=gens.dropout)
    X = rng.random((90, 784), dtype=np.float32)
    y = np.arange(90) % 3
    rec = F.DecisionRegionRecorder(X, y, every=2, grid_size=20)
    history = nn.fit(model, nn.SGD(lr=0.1), X, y, epochs=5, batch_size=30, rng=gens.shuffle, callbacks=[rec])
    assert [f.epoch for f in rec.frames] == [0, 2, 4, 5]
    assert rec.frames[1].metrics["train/acc"] == history.epochs[1]["train/acc"]
    path = F.training_animation(rec, tmp_path / "anim", class_names=["a", "b", "c"], fps=4)
    assert path.suffix == ".gif"
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4


def test_training_animation_needs_frames(rng, tmp_path):
    rec = F.DecisionRegionRecorder(rng.random((10, 4)), np.zeros(10, int))
    with pytest.raises(ValueError, match="no frames"):
        F.training_animation(rec, tmp_path / "a.gif")


def test_cli_regenerates_and_logs_a_runs_figures(mnist, tmp_path, capsys):
    """``python -m nnscratch.figures RUN_ID`` on a run of a real (small) ``train.py`` sweep."""
    from mlflow.tracking import MlflowClient

    from nnscratch.figures.__main__ import main
    from tests.view_support import sweep_store

    store = sweep_store()
    run_id = store.child_ids[1]
    assert main([run_id, "--out", str(tmp_path), "--tracking-uri", store.tracking_uri]) == 0
    order = ("learning_curves", "confusion_matrix", "first_layer_weights", "dataset_preview", "hidden_activations",
             "misclassified")
    assert {p.stem for p in tmp_path.glob("*.png")} == set(order)
    paths = ["learning_curves.png", "confusion_matrix.png", *(f"figures/{n}.png" for n in order[2:])]
    assert capsys.readouterr().out.split() == [f"runs:/{run_id}/{p}" for p in paths]
    client = MlflowClient(tracking_uri=store.tracking_uri)
    logged = {a.path for a in client.list_artifacts(run_id)} | {a.path for a in client.list_artifacts(run_id, "figures")}
    assert set(paths) <= logged
    with Image.open(tmp_path / "first_layer_weights.png") as im:
        assert im.size[0] > 400


def test_cli_logs_into_the_run_only_and_skips_what_it_has(mnist, tmp_path, monkeypatch, capsys):
    from nnscratch.figures.__main__ import main
    from tests.view_support import sweep_store

    monkeypatch.chdir(tmp_path)
    assert main([sweep_store().child_ids[0], "--missing", "--tracking-uri", sweep_store().tracking_uri]) == 0
    assert capsys.readouterr().out == "" and not list(tmp_path.iterdir())  # nothing missing, no stray files


def test_cli_reports_an_unknown_run(mnist, tmp_path, capsys):
    from nnscratch.figures.__main__ import main
    from tests.view_support import sweep_store

    assert main(["0" * 32, "--out", str(tmp_path), "--tracking-uri", sweep_store().tracking_uri]) == 2
    assert "not found" in capsys.readouterr().err
