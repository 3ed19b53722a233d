"""Keep a storage password out of everything the sweep prints and writes.

Jobs are told their storage with the password replaced by ``***`` (Hydra prints every job's
overrides and saves them in the job's ``.hydra/hydra.yaml``). A job puts the password back from its
own ``hydra.sweeper.storage``, resolved where it runs, so ``${oc.env:OPTUNA_PASSWORD}`` in the URL
works on every machine and the password is never written by Hydra at all. A password typed into the
URL itself is still saved by Hydra in the job's ``.hydra/*.yaml``; the job blanks it there before it
trains (:func:`scrub_job_files`).
"""
from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .storage import display_storage, is_rdb_url

log = logging.getLogger(__name__)

REDACTED = "***"


def password_of(storage: str | None) -> str | None:
    """The password in an RDB storage URL, if any."""
    if not storage or not is_rdb_url(storage):
        return None
    try:
        return make_url(storage).password or None
    except ArgumentError:
        return None


def redacted(storage: str) -> str:
    """``storage`` as jobs are told it: the password replaced by ``***``."""
    return display_storage(storage)


def with_password(storage: str, configured: str | None) -> str:
    """``storage`` with a ``***`` password replaced by the password of the ``configured`` storage URL."""
    if password_of(storage) != REDACTED:
        return storage
    password = password_of(configured)
    if password is None:
        raise ValueError(f"the job's storage {storage} needs its password, and hydra.sweeper.storage here has "
                         "none; put it there (e.g. ${oc.env:OPTUNA_PASSWORD}) or in ~/.pgpass")
    return make_url(storage).set(password=password).render_as_string(hide_password=False)


def configured_storage() -> str | None:
    """This Hydra job's ``hydra.sweeper.storage`` (interpolations resolved here), or None."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    storage = HydraConfig.get().sweeper.get("storage")
    return str(storage) if storage else None


def scrub_job_files(password: str | None) -> list[Path]:
    """Replace ``password`` by ``***`` in this Hydra job's saved ``.hydra/*.yaml``; returns the files changed."""
    from hydra.core.hydra_config import HydraConfig

    if not password or not HydraConfig.initialized() or not HydraConfig.get().output_subdir:
        return []
    changed = []
    saved = Path(HydraConfig.get().runtime.output_dir) / HydraConfig.get().output_subdir
    for path in sorted(saved.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if password in text:
            path.write_text(text.replace(password, REDACTED), encoding="utf-8")
            changed.append(path)
    return changed
