"""Event ``properties`` as JSON text, built column-wise with Arrow string kernels.

A Python loop of ``json.dumps`` would dominate the run time at 50M events; joining
pre-encoded pieces element-wise in Arrow's C++ kernels builds the same JSON text
in a fraction of the time. Values passed here are already JSON-encoded pieces.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

# Flag state of an event (see flag_state): nothing, the holdout, or the search_v2
# rollout evaluated to true / false.
NO_FLAGS, HOLDOUT, SEARCH_V2_ON, SEARCH_V2_OFF = 0, 1, 2, 3
_FLAG_OBJECTS = ('{"holdout":true}', '{"search_v2":true}', '{"search_v2":false}')
_AFTER_FIELD = pa.array([""] + [',"flags":' + f for f in _FLAG_OBJECTS])
_ALONE = pa.array(["{}"] + ['{"flags":' + f + "}" for f in _FLAG_OBJECTS])


def flag_state(
    ts: np.ndarray, holdout: np.ndarray, in_rollout: np.ndarray, holdout_start: int, v2_ms: int
) -> np.ndarray:
    """Which flags an event carries: holdout users carry only ``holdout`` (they are
    outside every rollout); others carry ``search_v2`` true/false once it shipped."""
    state = np.full(len(ts), NO_FLAGS, dtype=np.int8)
    state[~holdout & (ts >= v2_ms)] = SEARCH_V2_OFF
    state[~holdout & (ts >= v2_ms) & in_rollout] = SEARCH_V2_ON
    state[holdout & (ts >= holdout_start)] = HOLDOUT
    return state


def numbers(values: np.ndarray) -> pa.Array:
    """JSON numbers (integers, or floats rounded by the caller)."""
    return pa.array(values).cast(pa.string())


def choices(vocabulary: Sequence[object] | np.ndarray, index: np.ndarray) -> pa.Array:
    """JSON-encoded vocabulary entries picked by index."""
    encoded = pa.array([orjson.dumps(v).decode() for v in vocabulary])
    return encoded.take(pa.array(index))


def objects(fields: Sequence[tuple[str, pa.Array | str]], flags: np.ndarray) -> pa.Array:
    """One JSON object per row from (key, encoded value) pairs plus the flag state.

    A value may be one string for every row (a constant, already JSON-encoded).
    """
    if not fields:
        return _ALONE.take(pa.array(flags))
    parts: list[pa.Array | str] = []
    for i, (key, value) in enumerate(fields):
        parts.append(("{" if i == 0 else ",") + orjson.dumps(key).decode() + ":")
        parts.append(value)
    parts.append(_AFTER_FIELD.take(pa.array(flags)))
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")
