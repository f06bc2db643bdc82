"""How raw values are spelled: booleans in words, ISO 8601 dates, numbers as level names; dates as
days since 1970-01-01 and back, and the date parts a model sees.

The spellings ``schema.Schema.read_values`` accepts and ``build.columns`` infers kinds by, in one place.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

import numpy as np
from numpy.typing import NDArray

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?")
_EPOCH = _dt.datetime(1970, 1, 1)


def truth_value(value: Any) -> bool | None:
    """True/False for a boolean spelled any common way (JSON booleans, true/yes/y/t/1 and their
    opposites, case-insensitive), else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def date_days(value: str) -> float | None:
    """Days since 1970-01-01 (with the time as a fraction) of an ISO 8601 date or date-time, else None.
    A time zone offset is applied (the result is UTC)."""
    text = value.strip()
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.UTC).replace(tzinfo=None)
    return (moment - _EPOCH).total_seconds() / 86400.0


def days_to_iso(days: float) -> str:
    """The date (``YYYY-MM-DD``) of a column-space date value."""
    return (_EPOCH + _dt.timedelta(days=math.floor(days))).date().isoformat()


def number_text(value: float) -> str:
    """A number as a level name: integers without a decimal point (7.0 and 7 are the level "7")."""
    if math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def date_parts(days: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    """(n, 3): year, month (1-12) and day of week (Monday 0) of column-space date values."""
    whole = np.floor(days).astype("int64")
    dates = whole.astype("datetime64[D]")
    year = dates.astype("datetime64[Y]").astype("int64") + 1970
    month = dates.astype("datetime64[M]").astype("int64") % 12 + 1
    weekday = (whole + 3) % 7  # 1970-01-01 was a Thursday
    return np.column_stack([year, month, weekday]).astype(np.float64)
