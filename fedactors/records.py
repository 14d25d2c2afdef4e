"""`Table`: a list of records (dicts) that turns into a pandas DataFrame when pandas is installed."""

from __future__ import annotations

from typing import Any


class Table(list[dict[str, Any]]):
    """Rows of a run's table as dicts; `to_pandas()` for a DataFrame."""

    def to_pandas(self) -> Any:
        """The rows as a `pandas.DataFrame`.

        Raises:
            ImportError: pandas is not installed (it is the optional `pandas` extra).
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "to_pandas() needs pandas: pip install 'fedactors[pandas]' (or pip install pandas)"
            ) from None
        return pd.DataFrame.from_records(list(self))
