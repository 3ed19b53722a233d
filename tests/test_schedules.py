"""Learning-rate schedules: known values and argument validation."""
from __future__ import annotations

import math

import pytest

from nnscratch import schedules as S


def values(schedule: S.Schedule, epochs: range, base_lr: float = 0.1) -> list[float]:
    return [schedule(base_lr, epoch) for epoch in epochs]


def test_constant():
    assert values(S.Constant(), range(4)) == [0.1, 0.1, 0.1, 0.1]


def test_inverse_time():
    # 0.1 / (1 + 0.5 * epoch)
    assert values(S.InverseTime(0.5), range(5)) == pytest.approx([0.1, 0.1 / 1.5, 0.05, 0.04, 0.1 / 3])
    assert values(S.InverseTime(0.0), range(3)) == [0.1, 0.1, 0.1]


def test_step_decay():
    # halve every 2 epochs
    expected = [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125]
    assert values(S.StepDecay(step_size=2, gamma=0.5), range(7)) == pytest.approx(expected)
    assert values(S.StepDecay(step_size=1), range(3)) == pytest.approx([0.1, 0.01, 0.001])


def test_cosine():
    schedule = S.Cosine(total_epochs=10, min_lr=0.01)
    assert schedule(0.1, 0) == pytest.approx(0.1)
    assert schedule(0.1, 5) == pytest.approx(0.055)  # half way: the mean of base and min
    assert schedule(0.1, 10) == pytest.approx(0.01)
    assert schedule(0.1, 25) == pytest.approx(0.01)  # stays at min_lr after total_epochs
    assert schedule(0.1, 2) == pytest.approx(0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * 0.2)))
    lrs = values(schedule, range(11))
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert S.Cosine(4)(1.0, 2) == pytest.approx(0.5)


@pytest.mark.parametrize("build, argument", [
    (lambda: S.InverseTime(-0.1), "decay_rate"),
    (lambda: S.StepDecay(0), "step_size"),
    (lambda: S.StepDecay(2, gamma=0.0), "gamma"),
    (lambda: S.StepDecay(2, gamma=1.5), "gamma"),
    (lambda: S.Cosine(0), "total_epochs"),
    (lambda: S.Cosine(10, min_lr=-1.0), "min_lr"),
])
def test_invalid_arguments_are_rejected_naming_them(build, argument):
    with pytest.raises(ValueError, match=f"^{argument}="):
        build()
