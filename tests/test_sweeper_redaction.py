"""A storage password is never printed or written by the sweep (jobs get ``***`` and put it back)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from nnscratch.sweeper.redaction import redacted, with_password
from nnscratch.sweeper.space import encode_value

sys.path.insert(0, str(Path(__file__).parent))
from sweeper_app.harness import load, run_in_process, sweep_args  # noqa: E402
from test_sweeper_parallel import postgres_storage  # noqa: E402,F401 - fixture

PASSWORD = "s3cret-Pw"
URL = f"postgresql+psycopg://optuna:{PASSWORD}@db.example:5432/studies"


def test_jobs_are_told_the_storage_without_its_password_and_put_it_back():
    told = redacted(URL)
    assert PASSWORD not in told and told == "postgresql+psycopg://optuna:***@db.example:5432/studies"
    assert with_password(told, URL) == URL
    assert with_password("postgresql+psycopg://optuna@db.example/studies", None).endswith("@db.example/studies")
    with pytest.raises(ValueError, match="hydra.sweeper.storage here has none"):
        with_password(told, "postgresql+psycopg://optuna@db.example/studies")


def test_a_password_in_the_storage_url_is_not_printed_nor_saved(postgres_storage, tmp_path, capsys):  # noqa: F811
    storage = make_url(postgres_storage).set(password=PASSWORD).render_as_string(hide_password=False)
    directory = tmp_path / "sweep"
    code = run_in_process(sweep_args(directory, "secret", "hydra.sweeper.n_trials=2",
                                     f"hydra.sweeper.storage={encode_value(storage)}"), cwd=tmp_path)
    output = capsys.readouterr()
    assert code == 0 and len(load(storage, "secret").get_trials()) == 2
    assert PASSWORD not in output.out + output.err
    leaks = [path for path in directory.rglob("*") if path.is_file() and PASSWORD in path.read_text(errors="ignore")]
    assert not leaks
