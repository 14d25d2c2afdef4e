"""Declarations of the `[report]` table: optional outputs a run writes beside its results.

    [report]
    tensorboard = true      # <run dir>/tensorboard/: accuracy, loss, staleness (docs/results.md)

The check that the package is installed only looks it up (`importlib.util.find_spec`),
so `fedactors validate` still imports neither tensorboard nor torch.
"""

from __future__ import annotations

import importlib.util

from pydantic import BaseModel, ConfigDict, field_validator

TENSORBOARD_EXTRA = "pip install 'fedactors[tensorboard]'"


class ReportSpec(BaseModel):
    """Extra outputs of a run.

    Attributes:
        tensorboard: write TensorBoard event files into `<run dir>/tensorboard/`
            (needs the `tensorboard` extra).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tensorboard: bool = False

    @field_validator("tensorboard")
    @classmethod
    def _tensorboard_installed(cls, wanted: bool) -> bool:
        if wanted and importlib.util.find_spec("tensorboard") is None:
            raise ValueError(
                "tensorboard = true needs the tensorboard package, which is not installed: "
                + TENSORBOARD_EXTRA
            )
        return wanted
