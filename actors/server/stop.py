"""The stopping rule: when a server declares the run over."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StopConfig(BaseModel):
    """Stop at the first of these that holds (at least one must be set).

    Attributes:
        max_versions: global model versions (one per FedAvg round, per FedAsync
            update, per FedBuff buffer flush).
        max_rounds: synchronous rounds (FedAvg, HierFAVG); the same as versions there.
        max_time_s: clock seconds since the server started (simulated time in a sim).
        target_accuracy: test accuracy in [0, 1] reached by an evaluation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_versions: int | None = Field(default=None, gt=0)
    max_rounds: int | None = Field(default=None, gt=0)
    max_time_s: float | None = Field(default=None, gt=0)
    target_accuracy: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _at_least_one(self) -> StopConfig:
        if all(
            v is None for v in (self.max_versions, self.max_rounds, self.max_time_s, self.target_accuracy)
        ):
            raise ValueError("set at least one of max_versions, max_rounds, max_time_s, target_accuracy")
        return self

    def reason(self, version: int, elapsed_s: float, accuracy: float | None) -> str | None:
        """Why the run should stop now, or None to go on."""
        limit = self.max_versions or self.max_rounds
        if accuracy is not None and self.target_accuracy is not None and accuracy >= self.target_accuracy:
            return "target_accuracy"
        if limit is not None and version >= limit:
            return "max_versions" if self.max_versions else "max_rounds"
        if self.max_time_s is not None and elapsed_s >= self.max_time_s:
            return "max_time_s"
        return None
