"""``train.py --help``: the config groups a person chooses from, without the internal ``*/schema`` groups.

Hydra's ``$APP_CONFIG_GROUPS`` lists every group, including the typed schemas registered in the
ConfigStore; ``conf/config.yaml``'s help template calls the resolver ``nnscratch.groups`` instead,
which lists the option files under ``conf/``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from omegaconf import OmegaConf

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def group_listing(conf_dir: Path = CONF_DIR) -> str:
    """``group: option, option`` per directory of ``conf_dir`` holding option files."""
    lines = []
    for group in sorted(p for p in conf_dir.rglob("*") if p.is_dir()):
        options = sorted(f.stem for f in group.glob("*.yaml"))
        if options:
            lines.append(f"{group.relative_to(conf_dir).as_posix()}: {', '.join(options)}")
    return "\n".join(lines)


def register_help_resolver() -> None:
    """Make ``${nnscratch.groups:}`` available to the help template (idempotent)."""
    if OmegaConf.has_resolver("nnscratch.groups"):
        return
    # omegaconf 2.4 names register_new_resolver register_resolver (2.3's register_resolver is the legacy API)
    if "replace" in inspect.signature(OmegaConf.register_resolver).parameters:
        OmegaConf.register_resolver("nnscratch.groups", group_listing)
    else:
        OmegaConf.register_new_resolver("nnscratch.groups", group_listing)
