"""Declarations of the `[data]` and `[data.partition]` tables of a topology file.

A topology file names one dataset and how it is split over the clients:

    [data]
    kind = "digits"
    test_fraction = 0.2

    [data.partition]
    kind = "dirichlet"
    alpha = 0.3

`DataSpec` and `PartitionSpec` are discriminated unions on `kind`, so a
validation error names the field of the variant that was chosen. Nothing here
touches the disk except importing a `custom` loader: a spec that names data
files validates on a machine that does not have them; the loaders in
`sims.data` say which file is missing when the run starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from topologies.errors import ImportPathError
from topologies.imports import check_signature, resolve_import

#: Where Debian's `dataset-fashion-mnist` package installs the idx files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_APT_PACKAGE = "dataset-fashion-mnist"


def _resolves_to_callable(path: str) -> str:
    """Refuse, at load time, a `module:attr` path that does not import a callable."""
    try:
        obj = resolve_import(path)
    except ImportPathError as exc:
        # pydantic reports ValueError as a field error; other exceptions escape raw.
        raise ValueError(str(exc)) from exc
    if not callable(obj):
        raise ValueError(f"import path {path!r}: {type(obj).__name__} object is not callable")
    return path


def check_callable(path: str, call: str, *args: Any, **kwargs: Any) -> None:
    """Refuse, at load time, a user's callable that cannot be called as `call` shows.

    Raises:
        ValueError: it cannot (pydantic reports it as the field's error).
    """
    try:
        check_signature(path, resolve_import(path), call, *args, **kwargs)
    except ImportPathError as exc:
        raise ValueError(str(exc)) from exc


#: A `package.module:attribute` path to a user's callable, checked by importing it.
CallablePath = Annotated[str, AfterValidator(_resolves_to_callable)]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- partitions -------------------------------------------------------------


class NaturalPartitionSpec(_Spec):
    """One client per user of the dataset (synthetic, leaf); needs num_clients == users."""

    kind: Literal["natural"] = "natural"


class IidPartitionSpec(_Spec):
    """Shuffle and deal the samples evenly: client sizes differ by at most one."""

    kind: Literal["iid"] = "iid"


class DirichletPartitionSpec(_Spec):
    """Label skew: each class is split over the clients by a Dirichlet(alpha) draw.

    Small alpha gives each client few classes; large alpha approaches IID.
    Draws are repeated until every client holds `min_samples_per_client`.
    """

    kind: Literal["dirichlet"] = "dirichlet"
    alpha: float = Field(default=0.5, gt=0)
    min_samples_per_client: int = Field(default=1, ge=1)


class ShardsPartitionSpec(_Spec):
    """Pathological label skew (McMahan et al. 2017): k single-label shards per client."""

    kind: Literal["shards"] = "shards"
    shards_per_client: int = Field(default=2, gt=0)


class PowerLawPartitionSpec(_Spec):
    """Quantity skew: the client of rank r holds a share proportional to r**-exponent.

    Labels stay IID. exponent = 0 gives equal sizes.
    """

    kind: Literal["powerlaw"] = "powerlaw"
    exponent: float = Field(default=1.0, ge=0)
    min_samples_per_client: int = Field(default=1, ge=1)


PartitionSpec = Annotated[
    NaturalPartitionSpec
    | IidPartitionSpec
    | DirichletPartitionSpec
    | ShardsPartitionSpec
    | PowerLawPartitionSpec,
    Field(discriminator="kind"),
]


# --- datasets ---------------------------------------------------------------


class _UserlessDataSpec(_Spec):
    """A dataset without users: IID by default, and `natural` does not apply."""

    partition: PartitionSpec = Field(default_factory=IidPartitionSpec)

    @model_validator(mode="after")
    def _natural_needs_users(self) -> _UserlessDataSpec:
        if isinstance(self.partition, NaturalPartitionSpec):
            raise ValueError(
                "partition kind 'natural' needs a dataset with users (synthetic, leaf), "
                "this one has none: use 'iid', 'dirichlet', 'shards' or 'powerlaw'"
            )
        return self


class SyntheticDataSpec(_Spec):
    """LEAF / FedProx Synthetic(alpha, beta) (Li et al., MLSys 2020).

    alpha controls how much the users' labelling models differ, beta how much
    their feature distributions differ. User k holds
    `min(floor(LogNormal(3, 2)) + min_samples, max_samples)` samples, the rule of
    LEAF's `data/synthetic/main.py`; a `test_fraction` of each user's samples
    goes to the shared test set.
    """

    kind: Literal["synthetic"] = "synthetic"
    alpha: float = Field(default=1.0, ge=0)
    beta: float = Field(default=1.0, ge=0)
    num_users: int = Field(default=30, gt=0)
    num_features: int = Field(default=60, gt=0)
    num_classes: int = Field(default=10, ge=2)
    iid: bool = False
    min_samples: int = Field(default=5, ge=1)
    max_samples: int = Field(default=1000, ge=1)
    test_fraction: float = Field(default=0.1, ge=0, lt=1)
    partition: PartitionSpec = Field(default_factory=NaturalPartitionSpec)

    @model_validator(mode="after")
    def _max_at_least_min(self) -> SyntheticDataSpec:
        if self.max_samples < self.min_samples:
            raise ValueError(
                f"max_samples must be >= min_samples ({self.min_samples}), got {self.max_samples}"
            )
        return self


class DigitsDataSpec(_UserlessDataSpec):
    """scikit-learn's bundled 8x8 digits: 1797 samples, 64 features in [0, 1], 10 classes."""

    kind: Literal["digits"] = "digits"
    test_fraction: float = Field(default=0.2, gt=0, lt=1)


class LeafDataSpec(_Spec):
    """LEAF JSON: each path is one `.json` file or a directory of them (merged)."""

    kind: Literal["leaf"] = "leaf"
    train_path: Path
    test_path: Path
    partition: PartitionSpec = Field(default_factory=NaturalPartitionSpec)


class MnistIdxDataSpec(_UserlessDataSpec):
    """MNIST-format idx files (optionally gzipped); pixels are scaled to [0, 1]."""

    kind: Literal["mnist_idx"] = "mnist_idx"
    train_images: Path
    train_labels: Path
    test_images: Path
    test_labels: Path


class FashionMnistDataSpec(_UserlessDataSpec):
    """Fashion-MNIST idx files; defaults are where Debian's `dataset-fashion-mnist` puts them."""

    kind: Literal["fashion_mnist"] = "fashion_mnist"
    train_images: Path = FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz"
    train_labels: Path = FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz"
    test_images: Path = FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz"
    test_labels: Path = FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz"


class CustomDataSpec(_UserlessDataSpec):
    """The user's own loader: `path` names `f(seed: int, **options)`.

    `f` returns `(train_x, train_y, test_x, test_y)`, numpy arrays or torch
    tensors; x of shape (n, *input_shape), y integer labels in [0, classes).
    The number of classes is taken as the largest label + 1.
    """

    kind: Literal["custom"] = "custom"
    options: dict[str, Any] = Field(default_factory=dict)  # before path, which is checked with them
    path: CallablePath

    @field_validator("path")
    @classmethod
    def _takes_the_call(cls, path: str, info: ValidationInfo) -> str:
        check_callable(path, "f(seed, **options)", 0, **info.data.get("options", {}))
        return path


DataSpec = Annotated[
    SyntheticDataSpec
    | DigitsDataSpec
    | LeafDataSpec
    | MnistIdxDataSpec
    | FashionMnistDataSpec
    | CustomDataSpec,
    Field(discriminator="kind"),
]
