"""Segment Spec messages: identify (users), group (accounts) and track events.

These are what only the JSON form carries well: traits of users and accounts,
and (at small sizes) the ``Experiment Viewed`` and ``Survey Responded`` events
with their nested properties. Field names are Segment's (camelCase) on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import orjson
import pyarrow as pa

from impactlens.demo.company import PLANS, ROLES, SEGMENTS
from impactlens.demo.profile import iso_ms
from impactlens.demo.world import World


def identify_messages(world: World) -> Iterator[dict]:
    """One ``identify`` per user, at signup, with the user's traits."""
    users, accounts = world.users, world.accounts
    created = iso_ms(users.created_ms, "ms")
    plan = PLANS[accounts.plan[users.account]]
    for i in range(users.n):
        account_id = str(accounts.ids[users.account[i]])
        yield {
            "type": "identify",
            "userId": str(users.ids[i]),
            "timestamp": str(created[i]),
            "messageId": f"id-{world.seed}-{users.ids[i]}",
            "context": {"groupId": account_id},
            "traits": {
                "createdAt": str(created[i]),
                "role": str(ROLES[users.role[i]]),
                "plan": str(plan[i]),
                "accountId": account_id,
            },
        }


def group_messages(world: World) -> Iterator[dict]:
    """One ``group`` per account, sent by its admin when the account was created."""
    accounts, life = world.accounts, world.life
    first_user = world.users.account_slices(accounts.n)
    created = iso_ms(accounts.created_ms, "ms")
    last_mrr = _last_mrr(life.mrr)
    for a in range(accounts.n):
        yield {
            "type": "group",
            "userId": str(world.users.ids[first_user[a]]),
            "groupId": str(accounts.ids[a]),
            "timestamp": str(created[a]),
            "messageId": f"grp-{world.seed}-{accounts.ids[a]}",
            "traits": {
                "name": str(accounts.names[a]),
                "plan": str(PLANS[accounts.plan[a]]),
                "segment": str(SEGMENTS[accounts.segment[a]]),
                "seats": int(accounts.seats[a]),
                "mrr": float(last_mrr[a]),
                "holdout": bool(accounts.holdout[a]),
                "createdAt": str(created[a]),
            },
        }


def _last_mrr(mrr: np.ndarray) -> np.ndarray:
    """Each account's latest non-zero MRR (0 if it never paid)."""
    paid = mrr > 0
    last = np.where(paid.any(axis=1), mrr.shape[1] - 1 - np.argmax(paid[:, ::-1], axis=1), 0)
    return np.where(paid.any(axis=1), mrr[np.arange(len(mrr)), last], 0.0)


def track_messages(table: pa.Table) -> Iterator[dict]:
    """Flat event rows (blocks.FLAT_SCHEMA) as Segment ``track`` messages."""
    ts = iso_ms(table.column("timestamp").cast("int64").to_numpy(), "ms")
    columns = {
        name: table.column(name).to_pylist()
        for name in ("message_id", "event", "user_id", "anonymous_id", "account_id", "properties")
    }
    for i in range(table.num_rows):
        message: dict[str, object] = {"type": "track", "event": columns["event"][i]}
        if columns["user_id"][i] is not None:
            message["userId"] = columns["user_id"][i]
        if columns["anonymous_id"][i] is not None:
            message["anonymousId"] = columns["anonymous_id"][i]
        message["timestamp"] = str(ts[i])
        message["messageId"] = columns["message_id"][i]
        if columns["account_id"][i] is not None:
            message["context"] = {"groupId": columns["account_id"][i]}
        message["properties"] = orjson.Fragment(columns["properties"][i])
        yield message
