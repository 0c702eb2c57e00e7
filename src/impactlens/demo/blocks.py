"""Columnar event blocks and their conversion to the contract's flat event table.

Each generator step returns one :class:`Block` per event name; a batch's blocks
become one Arrow table in the flat form (``message_id, timestamp, event,
user_id, anonymous_id, account_id, properties``) sorted by time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EVENT_NAMES = (
    "Signed Up",
    "Session Started",
    "Search Performed",
    "Search Result Clicked",
    "Report Created",
    "Report Exported",
    "Export Failed",
    "Error Shown",
    "User Invited",
    "Dashboard Viewed",
    "Checkout Started",
    "Checkout Completed",
    "Onboarding Step Completed",
    "Experiment Viewed",
    "Survey Responded",
)

FLAT_SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("event", pa.string()),
        ("user_id", pa.string()),
        ("anonymous_id", pa.string()),
        ("account_id", pa.string()),
        ("properties", pa.string()),
    ]
)


@dataclass(frozen=True, eq=False)
class Block:
    """Rows of one event name: time, actor and JSON properties."""

    event: str
    ts: np.ndarray  # epoch ms
    user: np.ndarray  # global user number, -1 for an anonymous visitor
    props: pa.Array
    anon: np.ndarray | None = None  # anonymous visitor number, -1 for none

    def __len__(self) -> int:
        return len(self.ts)

    def where(self, keep: np.ndarray) -> Block:
        anon = None if self.anon is None else self.anon[keep]
        return Block(self.event, self.ts[keep], self.user[keep], self.props.filter(keep), anon)


@dataclass(frozen=True, eq=False)
class IdColumns:
    """Arrow arrays to turn user numbers into user and account ids."""

    user_ids: pa.Array
    user_account_ids: pa.Array
    message_prefix: str

    @classmethod
    def of(
        cls, user_ids: np.ndarray, account_ids: np.ndarray, user_account: np.ndarray, seed: int
    ) -> IdColumns:
        return cls(pa.array(user_ids), pa.array(account_ids[user_account]), f"m{seed}-")


def to_table(blocks: Sequence[Block], ids: IdColumns, first_message: int) -> pa.Table:
    """One time-sorted flat table; message ids count up from ``first_message``."""
    blocks = [b for b in blocks if len(b)]
    if not blocks:
        return FLAT_SCHEMA.empty_table()
    ts = np.concatenate([b.ts for b in blocks])
    user = np.concatenate([b.user for b in blocks])
    anon = np.concatenate([b.anon if b.anon is not None else np.full(len(b), -1) for b in blocks])
    names = np.repeat(np.arange(len(blocks)), [len(b) for b in blocks])
    props = pa.concat_arrays([b.props for b in blocks])
    order = np.argsort(ts, kind="stable")
    ts, user, anon, names = ts[order], user[order], anon[order], names[order]

    known = user >= 0
    user_index = pa.array(np.where(known, user, 0), mask=~known)
    counter = np.arange(first_message, first_message + len(ts))
    anon_text = pc.binary_join_element_wise(
        "anon-", pc.utf8_lpad(pa.array(anon).cast(pa.string()), 7, "0"), ""
    )
    return pa.table(
        {
            "message_id": pc.binary_join_element_wise(
                ids.message_prefix, pc.utf8_lpad(pa.array(counter).cast(pa.string()), 9, "0"), ""
            ),
            "timestamp": pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "event": pa.array([b.event for b in blocks]).take(pa.array(names)),
            "user_id": ids.user_ids.take(user_index),
            "anonymous_id": pc.if_else(
                pa.array(anon >= 0), anon_text, pa.nulls(len(ts), pa.string())
            ),
            "account_id": ids.user_account_ids.take(user_index),
            "properties": props.take(pa.array(order)),
        },
        schema=FLAT_SCHEMA,
    )
