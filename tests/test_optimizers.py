"""Optimizers: hand-computed steps, then one shared suite that every optimizer passes."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.optimizers import BLOCK, FLUSH_BELOW, FLUSH_EVERY, OPTIMIZERS
from nnscratch.parameters import ParameterBuffer

EPS = 1e-8


def scalar_buffer(w0: float = 1.0) -> ParameterBuffer:
    params = ParameterBuffer({"w": (1,)}, np.float64)
    params.data[:] = w0
    return params


def run_steps(optimizer: nn.Optimizer, grads: list[float]) -> list[float]:
    """Apply one step per gradient to w = 1.0; return w after every step."""
    params, trajectory = scalar_buffer(), []
    for g in grads:
        params.grad[:] = g
        optimizer.step(params)
        trajectory.append(float(params.data[0]))
    return trajectory


GRADS = [0.5, -0.25, 1.0]


# ----- hand-computed steps (w0 = 1, gradients 0.5, -0.25, 1.0) ---------------------------------
def test_sgd_hand_steps():
    # w -= 0.1 * g
    assert run_steps(nn.SGD(lr=0.1), GRADS) == pytest.approx([0.95, 0.975, 0.875], abs=1e-15)


def test_momentum_hand_steps():
    # v = 0.9 v + g: 0.5, 0.2, 1.18; w -= 0.1 v
    assert run_steps(nn.Momentum(lr=0.1, momentum=0.9), GRADS) == pytest.approx([0.95, 0.93, 0.812], abs=1e-15)


def test_nesterov_momentum_hand_steps():
    # v = 0.9 v + g: 0.5, 0.2, 1.18; w -= 0.1 (g + 0.9 v): steps 0.095, -0.007, 0.2062
    trajectory = run_steps(nn.Momentum(lr=0.1, momentum=0.9, nesterov=True), GRADS)
    assert trajectory == pytest.approx([0.905, 0.912, 0.7058], abs=1e-15)


def test_rmsprop_hand_steps():
    # s = 0.9 s + 0.1 g^2: 0.025, 0.02875, 0.125875; w -= 0.01 g / (sqrt(s) + eps)
    w1 = 1 - 0.01 * 0.5 / (np.sqrt(0.025) + EPS)
    w2 = w1 + 0.01 * 0.25 / (np.sqrt(0.02875) + EPS)
    w3 = w2 - 0.01 * 1.0 / (np.sqrt(0.125875) + EPS)
    assert run_steps(nn.RMSprop(lr=0.01, rho=0.9, eps=EPS), GRADS) == pytest.approx([w1, w2, w3], abs=1e-15)
    assert w1 == pytest.approx(1 - 0.01 / np.sqrt(0.1))  # first step: lr * g / |g| / sqrt(1 - rho)


def test_adam_hand_steps_with_bias_correction():
    # m = 0.9 m + 0.1 g:        0.05,    0.02,        0.118
    # v = 0.999 v + 0.001 g^2:  0.00025, 0.00031225,  0.00131193775
    # w -= 0.1 * (m / (1 - 0.9^t)) / (sqrt(v / (1 - 0.999^t)) + eps)
    m = [0.05, 0.02, 0.118]
    v = [0.00025, 0.00031225, 0.00131193775]
    w, expected = 1.0, []
    for t in (1, 2, 3):
        w -= 0.1 * (m[t - 1] / (1 - 0.9**t)) / (np.sqrt(v[t - 1] / (1 - 0.999**t)) + EPS)
        expected.append(w)
    trajectory = run_steps(nn.Adam(lr=0.1), GRADS)
    assert trajectory == pytest.approx(expected, abs=1e-12)
    assert trajectory[0] == pytest.approx(0.9, abs=1e-7)  # bias-corrected first step is lr * sign(g)


# ----- reference updates for the shared suite (plain float64 formulas, no blocks) --------------
def reference_update(optimizer: nn.Optimizer, w: np.ndarray, g: np.ndarray, state: dict, t: int) -> np.ndarray:
    h = optimizer.hyperparameters()
    if isinstance(optimizer, nn.Momentum):
        state["v"] = h["momentum"] * state.get("v", 0.0) + g
        return w - h["lr"] * ((g + h["momentum"] * state["v"]) if h["nesterov"] else state["v"])
    if isinstance(optimizer, nn.RMSprop):
        state["s"] = h["rho"] * state.get("s", 0.0) + (1 - h["rho"]) * g * g
        return w - h["lr"] * g / (np.sqrt(state["s"]) + h["eps"])
    if isinstance(optimizer, nn.Adam):
        state["m"] = h["beta1"] * state.get("m", 0.0) + (1 - h["beta1"]) * g
        state["v"] = h["beta2"] * state.get("v", 0.0) + (1 - h["beta2"]) * g * g
        m_hat, v_hat = state["m"] / (1 - h["beta1"] ** t), state["v"] / (1 - h["beta2"] ** t)
        return w - h["lr"] * m_hat / (np.sqrt(v_hat) + h["eps"])
    return w - h["lr"] * g


FACTORIES: dict[str, Callable[[], nn.Optimizer]] = {
    "sgd": lambda: nn.SGD(lr=0.1),
    "momentum": lambda: nn.Momentum(lr=0.05, momentum=0.9),
    "nesterov": lambda: nn.Momentum(lr=0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda: nn.RMSprop(lr=0.01, rho=0.9),
    "adam": lambda: nn.Adam(lr=0.05),
}
suite = pytest.mark.parametrize("make", list(FACTORIES.values()), ids=list(FACTORIES))

# larger than one block, and not a multiple of it, split over two named parameters
BIG = {"a.W": (BLOCK + 1000, 2), "a.b": (123,)}


def big_buffer(dtype="float64", seed=0) -> ParameterBuffer:
    params = ParameterBuffer(BIG, dtype)
    params.data[:] = np.random.default_rng(seed).standard_normal(params.size)
    return params


def quadratic_gradient(params: ParameterBuffer, step: int) -> None:
    """grad of 0.5 * sum(a * (w - c)^2), with a step-dependent twist so gradients vary in sign and size."""
    n = params.size
    a = np.linspace(0.5, 2.0, n)
    c = np.sin(np.arange(n)) + 0.1 * step
    params.grad[:] = a * (params.data.astype(np.float64) - c)


@suite
def test_matches_reference_across_block_boundaries(make):
    assert sum(int(np.prod(s)) for s in BIG.values()) > 2 * BLOCK
    optimizer, params = make(), big_buffer()
    w, state = params.data.copy(), {}
    for t in (1, 2, 3):
        quadratic_gradient(params, t)
        w = reference_update(optimizer, w, params.grad.copy(), state, t)
        optimizer.step(params)
        np.testing.assert_allclose(params.data, w, rtol=1e-12, atol=1e-14)
    assert optimizer.steps == 3


@suite
def test_updates_in_place_so_parameter_views_stay_valid(make):
    optimizer, params = make(), big_buffer()
    data, view = params.data, params.values["a.b"]
    quadratic_gradient(params, 1)
    optimizer.step(params)
    assert params.data is data
    np.testing.assert_array_equal(view, params.data[-123:])
    assert not np.array_equal(view, big_buffer().values["a.b"])


@suite
def test_float32_stays_float32(make):
    optimizer, params = make(), big_buffer("float32")
    w, state = params.data.astype(np.float64), {}
    for t in (1, 2, 3):
        quadratic_gradient(params, t)
        w = reference_update(optimizer, w, params.grad.astype(np.float64), state, t)
        optimizer.step(params)
        assert params.data.dtype == params.grad.dtype == np.float32
    assert all(value.dtype == np.float32 for key, value in optimizer.state_dict().items() if key != "steps")
    np.testing.assert_allclose(params.data, w, rtol=2e-5, atol=2e-5)


@suite
def test_state_dict_round_trip_continues_identically(make):
    original, params = make(), big_buffer()
    for t in (1, 2):
        quadratic_gradient(params, t)
        original.step(params)
    state = original.state_dict()
    assert int(state["steps"]) == 2
    clone_params = ParameterBuffer(BIG, params.dtype)
    clone_params.data[:] = params.data
    clone = type(original)(**original.hyperparameters())
    clone.load_state_dict(state, clone_params)
    for t in (3, 4, 5):
        for optimizer, buffer in ((original, params), (clone, clone_params)):
            quadratic_gradient(buffer, t)
            optimizer.step(buffer)
    np.testing.assert_array_equal(clone_params.data, params.data)
    a, b = original.state_dict(), clone.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


@suite
def test_state_dict_is_a_snapshot(make):
    """A state dict kept in memory (e.g. the best epoch's) must not change as training goes on."""
    optimizer, params = make(), big_buffer()
    quadratic_gradient(params, 1)
    optimizer.step(params)
    state = optimizer.state_dict()
    frozen = {key: np.array(value, copy=True) for key, value in state.items()}
    for t in (2, 3):
        quadratic_gradient(params, t)
        optimizer.step(params)
    for key in frozen:
        np.testing.assert_array_equal(state[key], frozen[key], err_msg=key)


@suite
def test_state_dict_keys_are_named_by_parameter(make):
    optimizer, params = make(), big_buffer()
    quadratic_gradient(params, 1)
    optimizer.step(params)
    state = optimizer.state_dict()
    moments = {key.split("/")[1] for key in state if key != "steps"}
    assert set(state) == {"steps"} | {f"{name}/{moment}" for name in BIG for moment in moments}
    for key, value in state.items():
        if key != "steps":
            assert value.shape == BIG[key.split("/")[0]]


@suite
def test_state_of_an_optimizer_that_never_stepped_can_be_loaded(make):
    fresh = make()
    params = big_buffer()
    clone = type(fresh)(**fresh.hyperparameters())
    clone.load_state_dict(fresh.state_dict(), params)
    reference = make()
    reference_params = big_buffer()
    for optimizer, buffer in ((clone, params), (reference, reference_params)):
        quadratic_gradient(buffer, 1)
        optimizer.step(buffer)
    np.testing.assert_array_equal(params.data, reference_params.data)


@suite
def test_minimizes_a_quadratic(make):
    optimizer = make()
    params = ParameterBuffer({"w": (50,)}, np.float64)
    a, c = np.linspace(0.5, 2.0, 50), np.linspace(-1, 1, 50)

    def loss() -> float:
        return float(0.5 * np.sum(a * (params.data - c) ** 2))

    start = loss()
    for _ in range(300):
        params.grad[:] = a * (params.data - c)
        optimizer.step(params)
    assert loss() < 1e-3 * start


@suite
def test_lowers_the_loss_of_a_network(make):
    gens = nn.make_generators(0)
    model = nn.MLP(5, [8], 3, rng=gens.init, dropout_rng=gens.dropout)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 5)).astype(np.float32), rng.integers(0, 3, 64)
    optimizer, start = make(), model.loss(X, y)
    for _ in range(20):
        model.gradient(X, y)
        optimizer.step(model.params)
    assert model.loss(X, y) < start


@suite
def test_hyperparameters_rebuild_an_equal_optimizer(make):
    optimizer = make()
    clone = type(optimizer)(**optimizer.hyperparameters())
    assert clone.hyperparameters() == optimizer.hyperparameters()
    assert repr(clone) == repr(optimizer)
    assert OPTIMIZERS[next(k for k, v in OPTIMIZERS.items() if v is type(optimizer))] is type(optimizer)


@pytest.mark.parametrize("build, argument", [
    (lambda: nn.SGD(lr=0.0), "lr"),
    (lambda: nn.SGD(lr=-1.0), "lr"),
    (lambda: nn.SGD(lr=float("nan")), "lr"),
    (lambda: nn.Momentum(lr=0.1, momentum=1.0), "momentum"),
    (lambda: nn.Momentum(lr=0.1, momentum=-0.1), "momentum"),
    (lambda: nn.RMSprop(lr=0.1, rho=1.0), "rho"),
    (lambda: nn.RMSprop(lr=0.1, eps=0.0), "eps"),
    (lambda: nn.Adam(lr=0.1, beta1=1.0), "beta1"),
    (lambda: nn.Adam(lr=0.1, beta2=1.5), "beta2"),
    (lambda: nn.Adam(lr=0.1, eps=-1.0), "eps"),
])
def test_invalid_hyperparameters_are_rejected_naming_them(build, argument):
    with pytest.raises(ValueError, match=f"^{argument}="):
        build()


@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adam"])
def test_loading_a_state_that_lacks_a_moment_is_an_error(name):
    optimizer, params = FACTORIES[name](), big_buffer()
    quadratic_gradient(params, 1)
    optimizer.step(params)
    state = optimizer.state_dict()
    missing = next(key for key in state if key.startswith("a.b/"))
    del state[missing]
    with pytest.raises(ValueError, match=missing):
        FACTORIES[name]().load_state_dict(state, big_buffer())


# --- subnormals ------------------------------------------------------------------------------------

def _train_with_a_dead_pixel(steps: int) -> tuple[nn.MLP, nn.Optimizer]:
    """Adam + L2 on a net whose first input is always 0: that pixel's weights get only the L2 term."""
    rng = np.random.default_rng(0)
    X = rng.random((64, 4)).astype(np.float32)
    X[:, 0] = 0.0
    y = (X[:, 1] > X[:, 2]).astype(np.int64)
    gens = nn.make_generators(0)
    model = nn.MLP.from_layer_sizes([4, 8, 2], rng=gens.init)
    optimizer = nn.Adam(1e-3)
    nn.fit(model, optimizer, X, y, epochs=steps, batch_size=64, l2=0.05, rng=gens.shuffle)
    return model, optimizer


def _subnormal_count(values: np.ndarray) -> int:
    return int(np.count_nonzero((values != 0) & (np.abs(values) < np.finfo(values.dtype).tiny)))


def test_weights_with_only_an_l2_gradient_are_flushed_to_zero_not_left_subnormal(monkeypatch):
    # Without the flush these weights end up subnormal (measured: ~2000 steps), and products with
    # subnormal operands run through the CPU's slow path (30x slower on this machine).
    monkeypatch.setattr("nnscratch.optimizers.FLUSH_EVERY", 10**9)
    unflushed, _ = _train_with_a_dead_pixel(3000)
    stuck = _subnormal_count(unflushed.parameters["dense1.W"][0])
    assert stuck > 0

    monkeypatch.undo()
    model, optimizer = _train_with_a_dead_pixel(3000)
    state = optimizer.state_dict()
    assert _subnormal_count(model.params.data) == 0
    assert all(_subnormal_count(state[f"dense1.W/{moment}"]) == 0 for moment in ("m", "v"))
    assert np.count_nonzero(model.parameters["dense1.W"][0] == 0) >= stuck  # exactly 0 instead
    # the dead pixel's input is exactly 0, so flushing its weights changes nothing else, bitwise
    kept = np.abs(unflushed.params.data) >= FLUSH_BELOW[np.dtype(np.float32)]
    np.testing.assert_array_equal(model.params.data[kept], unflushed.params.data[kept])
    assert np.all(model.params.data[~kept] == 0)


def _flushed(values: list[float], dtype: type, optimizer: nn.Optimizer, grad: float) -> dict[str, np.ndarray]:
    """Parameters and every moment set to ``values``, after one flush step with gradient ``grad`` everywhere."""
    params = ParameterBuffer({"w": (len(values),)}, dtype)
    params.data[:] = values
    moments = {f"w/{name}": np.abs(np.array(values, dtype)) if name in optimizer.squared_state
               else np.array(values, dtype) for name in optimizer.state_names}
    optimizer.load_state_dict({"steps": np.array(FLUSH_EVERY), **moments}, params)
    params.grad[:] = grad
    optimizer.step(params)
    state = optimizer.state_dict()
    return {"params": params.data, **{name: state[f"w/{name}"] for name in optimizer.state_names}}


def test_flush_zeroes_float32_weights_heading_to_zero_below_2_to_the_minus_50():
    values = [1e-40, 3e-16, 1e-20, 1.0, 1e-8]
    flushed = _flushed(values, np.float32, nn.SGD(0.1), grad=0.0)  # no gradient: nothing moves
    np.testing.assert_array_equal(flushed["params"], np.float32([0, 0, 0, 1, 1e-8]))
    moving_out = _flushed([1e-20, -1e-20], np.float32, nn.SGD(1.0), grad=-1e-18)  # pushed away from 0: kept
    np.testing.assert_array_equal(moving_out["params"], np.float32([1e-20, -1e-20]) + np.float32(1e-18))


def test_rmsprop_flushes_weights_only_when_subnormal_and_squares_only_when_negligible():
    flushed = _flushed([1e-40, 1e-33, 1.0], np.float32, nn.RMSprop(0.1), grad=0.0)
    np.testing.assert_array_equal(flushed["params"][[0, 2]], np.float32([0, 1]))
    assert flushed["params"][1] != 0
    # sqrt(square_avg) + eps == eps in float32 below (eps * 2**-23 / 4)**2 ~ 7.9e-32 (eps 1e-8): zeroed
    np.testing.assert_array_equal(flushed["square_avg"] == 0, [True, True, False])
    assert _flushed([1e-30], np.float32, nn.RMSprop(0.1), grad=0.0)["square_avg"][0] != 0


def test_flush_float64_zeroes_only_subnormals():
    values = [1e-310, -1e-320, 0.0, 1e-300, -2.0, 1e-30, 5e-16, 1.0]
    flushed = _flushed(values, np.float64, nn.SGD(0.1), grad=0.0)
    np.testing.assert_array_equal(flushed["params"], np.float64([0, 0, 0, 1e-300, -2, 1e-30, 5e-16, 1]))


def _train_with_dead_inputs(make_optimizer, flush_every: int, monkeypatch) -> np.ndarray:
    """A 20-64-32-3 net whose first 8 inputs are always 0, under L2: those weights feel only the L2 term."""
    monkeypatch.setattr("nnscratch.optimizers.FLUSH_EVERY", flush_every)
    rng = np.random.default_rng(0)
    X = rng.random((256, 20)).astype(np.float32)
    X[:, :8] = 0.0
    y = (X[:, 9] > X[:, 10]).astype(np.int64) + (X[:, 11] > 0.5)
    gens = nn.make_generators(0)
    model = nn.MLP.from_layer_sizes([20, 64, 32, 3], rng=gens.init, dropout_rng=gens.dropout)
    nn.fit(model, make_optimizer(), X, y, epochs=150, batch_size=64, l2=0.05, rng=gens.shuffle)
    return model.params.data.copy()


@pytest.mark.parametrize("make_optimizer", [lambda: nn.SGD(0.1), lambda: nn.Momentum(0.05),
                                            lambda: nn.RMSprop(0.001), lambda: nn.Adam(0.001)],
                         ids=["sgd", "momentum", "rmsprop", "adam"])
def test_the_flush_does_not_change_what_training_computes(make_optimizer, monkeypatch):
    """With a flush every 10 steps or never: the same weights, except Adam's flushed ones (0 instead of
    < 1e-12, where they would have stayed). RMSprop + L2 used to pin weights passing near 0 at 0 for good."""
    unflushed = _train_with_dead_inputs(make_optimizer, 10**9, monkeypatch)
    flushed = _train_with_dead_inputs(make_optimizer, 10, monkeypatch)
    differ = flushed != unflushed
    assert np.all(flushed[differ] == 0) and np.all(np.abs(unflushed[differ]) < 2.0**-40)
    if not isinstance(make_optimizer(), nn.Adam):
        np.testing.assert_array_equal(flushed, unflushed)