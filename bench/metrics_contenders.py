# ruff: noqa: S608  -- the hand-written SQL baseline, built from constants and dates only.
"""The heavy metrics written by hand three ways: DuckDB SQL, polars and plain pandas.

Each function computes the daily series over [start, end) in ``TZ`` from raw
events and returns a small result (one row per day), so the timing is the
query, not the transfer. Written the way a competent analyst would: the
rolling-month distinct count uses the same "next active day" trick as
impactlens, not a 30-fold self-join.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

TZ = "America/New_York"
HEAVY = (
    "weekly_active_users",
    "dau_mau",
    "search_click_through",
    "time_to_export",
    "search_adoption",
)
FEATURE = "Search Performed"  # search_adoption's feature event


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(TZ)
    lo = datetime.combine(start, datetime.min.time(), tzinfo=tz).astimezone(ZoneInfo("UTC"))
    hi = datetime.combine(end, datetime.min.time(), tzinfo=tz).astimezone(ZoneInfo("UTC"))
    return lo.replace(tzinfo=None), hi.replace(tzinfo=None)


# -- DuckDB SQL over the raw events table ------------------------------------------------------
def duckdb_sql(metric: str, start: date, end: date) -> str:
    lo, hi = utc_bounds(start, end)
    base = f"(SELECT *, CAST(timezone('{TZ}', timestamp AT TIME ZONE 'UTC') AS DATE) AS day FROM events"
    where = f"timestamp >= TIMESTAMP '{lo}' AND timestamp < TIMESTAMP '{hi}'"
    if metric == "weekly_active_users":
        return f"SELECT day, count(DISTINCT actor_id) AS v FROM {base} WHERE {where}) GROUP BY day"
    if metric == "search_click_through":
        return (
            f"SELECT day, count(*) FILTER (event = 'Search Result Clicked') * 1.0 / "
            f"nullif(count(*) FILTER (event = 'Search Performed'), 0) AS v FROM {base} WHERE {where} "
            "AND event IN ('Search Result Clicked', 'Search Performed')) GROUP BY day"
        )
    if metric == "dau_mau":
        lo29, _ = utc_bounds(start - timedelta(days=29), end)
        return f"""
WITH d AS (SELECT DISTINCT actor_id, day FROM {base}
           WHERE timestamp >= TIMESTAMP '{lo29}' AND timestamp < TIMESTAMP '{hi}')),
n AS (SELECT actor_id, day, lead(day) OVER (PARTITION BY actor_id ORDER BY day) AS nxt FROM d),
m AS (SELECT day AS k, 1 AS v FROM n
      UNION ALL SELECT least(day + 30, coalesce(nxt, day + 30)), -1 FROM n),
c AS (SELECT k, sum(sum(v)) OVER (ORDER BY k) AS mau FROM m GROUP BY k),
dau AS (SELECT day, count(*) AS dau FROM d GROUP BY day)
SELECT dau.day, dau.dau * 1.0 / c.mau AS v FROM dau JOIN c ON c.k = dau.day
WHERE dau.day >= DATE '{start}'"""
    if metric == "time_to_export":
        return f"""
WITH e AS (SELECT actor_id, timestamp, day, event = 'Report Exported' AS is_b FROM {base}
           WHERE timestamp >= TIMESTAMP '{lo}' AND timestamp < TIMESTAMP '{hi}' + INTERVAL 1 DAY
             AND event IN ('Report Created', 'Report Exported'))),
p AS (SELECT day, timestamp, is_b, min(CASE WHEN is_b THEN timestamp END) OVER (
        PARTITION BY actor_id ORDER BY timestamp, is_b ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS nxt
      FROM e)
SELECT day, median(date_diff('second', timestamp, nxt) / 60.0) AS v FROM p
WHERE NOT is_b AND timestamp < TIMESTAMP '{hi}' AND nxt <= timestamp + INTERVAL 1 DAY GROUP BY day"""
    if metric == "search_adoption":
        # Accounts active that day that searched that day / accounts active that day, and the
        # median days from an account's first event to its first search (by the search's day).
        return f"""
WITH a AS (SELECT DISTINCT day, account_id, event = '{FEATURE}' AS used FROM {base} WHERE {where})),
g AS (SELECT day, count(DISTINCT account_id) AS actives,
             count(DISTINCT account_id) FILTER (used) AS adopters FROM a GROUP BY day),
s AS (SELECT account_id, min(timestamp) AS seen,
             min(timestamp) FILTER (event = '{FEATURE}') AS t FROM events GROUP BY account_id),
f AS (SELECT CAST(timezone('{TZ}', t AT TIME ZONE 'UTC') AS DATE) AS day,
             median(date_diff('second', seen, t) / 86400.0) AS ttf FROM s
      WHERE t >= TIMESTAMP '{lo}' AND t < TIMESTAMP '{hi}' GROUP BY 1)
SELECT g.day, adopters * 1.0 / actives AS v, f.ttf FROM g LEFT JOIN f USING (day)"""
    raise KeyError(metric)


# -- polars over Parquet -----------------------------------------------------------------------
def polars_query(metric: str, path: str, start: date, end: date):
    import polars as pl

    lo, hi = utc_bounds(start, end)
    columns = ["timestamp", "event", "actor_id"]
    if metric == "search_adoption":
        columns[2] = "account_id"
    ev = pl.scan_parquet(path).select(*columns)
    day = (
        pl.col("timestamp")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(TZ)
        .dt.date()
        .alias("day")
    )
    inside = (pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi)
    if metric == "weekly_active_users":
        return (
            ev.filter(inside).with_columns(day).group_by("day").agg(pl.col("actor_id").n_unique())
        )
    if metric == "search_click_through":
        ev = ev.filter(
            inside & pl.col("event").is_in(["Search Result Clicked", "Search Performed"])
        )
        return (
            ev.with_columns(day)
            .group_by("day")
            .agg(
                (pl.col("event") == "Search Result Clicked").sum()
                / (pl.col("event") == "Search Performed").sum()
            )
        )
    if metric == "dau_mau":
        lo29, _ = utc_bounds(start - timedelta(days=29), end)
        d = ev.filter((pl.col("timestamp") >= lo29) & (pl.col("timestamp") < hi)).with_columns(day)
        d = d.select("actor_id", "day").unique().sort("actor_id", "day")
        d = d.with_columns(nxt=pl.col("day").shift(-1).over("actor_id"))
        stop = pl.min_horizontal(
            pl.col("day") + pl.duration(days=30),
            pl.col("nxt").fill_null(pl.col("day") + pl.duration(days=30)),
        )
        marks = pl.concat([d.select(k=pl.col("day"), v=pl.lit(1)), d.select(k=stop, v=pl.lit(-1))])
        mau = (
            marks.group_by("k")
            .agg(pl.col("v").sum())
            .sort("k")
            .with_columns(mau=pl.col("v").cum_sum())
        )
        dau = d.group_by("day").agg(dau=pl.len())
        return (
            dau.join(mau, left_on="day", right_on="k")
            .filter(pl.col("day") >= start)
            .select("day", v=pl.col("dau") / pl.col("mau"))
        )
    if metric == "time_to_export":
        e = ev.filter(
            (pl.col("timestamp") >= lo)
            & (pl.col("timestamp") < hi + timedelta(days=1))
            & pl.col("event").is_in(["Report Created", "Report Exported"])
        )
        e = e.with_columns(is_b=pl.col("event") == "Report Exported").sort(
            "actor_id", "timestamp", "is_b"
        )
        nxt = pl.when(pl.col("is_b")).then(pl.col("timestamp")).otherwise(None)
        e = e.with_columns(nxt=nxt.backward_fill().over("actor_id"), day=day)
        e = e.filter(
            ~pl.col("is_b")
            & (pl.col("timestamp") < hi)
            & (pl.col("nxt") <= pl.col("timestamp") + timedelta(days=1))
        )
        return e.group_by("day").agg(
            ((pl.col("nxt") - pl.col("timestamp")).dt.total_seconds() / 60).median()
        )
    if metric == "search_adoption":
        used = pl.col("event") == FEATURE
        g = (
            ev.filter(inside)
            .with_columns(day)
            .group_by("day")
            .agg(
                actives=pl.col("account_id").n_unique(),
                adopters=pl.col("account_id").filter(used).n_unique(),
            )
        )
        first = ev.group_by("account_id").agg(
            seen=pl.col("timestamp").min(), t=pl.col("timestamp").filter(used).min()
        )
        day_t = (
            pl.col("t").dt.replace_time_zone("UTC").dt.convert_time_zone(TZ).dt.date().alias("day")
        )
        f = (
            first.filter((pl.col("t") >= lo) & (pl.col("t") < hi))
            .with_columns(day_t)
            .group_by("day")
            .agg(ttf=((pl.col("t") - pl.col("seen")).dt.total_seconds() / 86400).median())
        )
        return g.join(f, on="day", how="left").select(
            "day", v=pl.col("adopters") / pl.col("actives"), ttf="ttf"
        )
    raise KeyError(metric)


# -- plain pandas, data already in memory ------------------------------------------------------
def pandas_query(metric: str, df, start: date, end: date):
    import pandas as pd

    lo, hi = utc_bounds(start, end)

    def with_day(frame):
        local = frame["timestamp"].dt.tz_localize("UTC").dt.tz_convert(TZ)
        return frame.assign(day=local.dt.date)

    if metric == "weekly_active_users":
        return (
            with_day(df[(df.timestamp >= lo) & (df.timestamp < hi)])
            .groupby("day")["actor_id"]
            .nunique()
        )
    if metric == "search_click_through":
        sub = with_day(
            df[
                (df.timestamp >= lo)
                & (df.timestamp < hi)
                & df.event.isin(["Search Result Clicked", "Search Performed"])
            ]
        )
        counts = sub.groupby(["day", "event"]).size().unstack(fill_value=0)
        return counts["Search Result Clicked"] / counts["Search Performed"]
    if metric == "dau_mau":
        lo29, _ = utc_bounds(start - timedelta(days=29), end)
        d = with_day(df[(df.timestamp >= lo29) & (df.timestamp < hi)])[
            ["actor_id", "day"]
        ].drop_duplicates()
        d["day"] = pd.to_datetime(d["day"])
        out = {}
        for k in pd.date_range(start, end - timedelta(days=1)):
            window = d[(d.day > k - pd.Timedelta(days=30)) & (d.day <= k)]
            out[k] = (d.day == k).sum() / window.actor_id.nunique()
        return pd.Series(out)
    if metric == "time_to_export":
        e = df[(df.timestamp >= lo) & (df.timestamp < hi + timedelta(days=1))]
        a = e[e.event == "Report Created"].sort_values("timestamp")
        b = e[e.event == "Report Exported"].sort_values("timestamp")[["actor_id", "timestamp"]]
        pairs = pd.merge_asof(
            a,
            b.rename(columns={"timestamp": "nxt"}),
            left_on="timestamp",
            right_on="nxt",
            by="actor_id",
            direction="forward",
        )
        pairs = with_day(
            pairs[(pairs.timestamp < hi) & (pairs.nxt <= pairs.timestamp + pd.Timedelta(days=1))]
        )
        return (
            pairs.assign(m=(pairs.nxt - pairs.timestamp).dt.total_seconds() / 60)
            .groupby("day")["m"]
            .median()
        )
    if metric == "search_adoption":
        sub = with_day(df[(df.timestamp >= lo) & (df.timestamp < hi)])
        actives = sub.groupby("day")["account_id"].nunique()
        adopters = sub[sub.event == FEATURE].groupby("day")["account_id"].nunique()
        seen = df.groupby("account_id", observed=True)["timestamp"].min()
        first = df[df.event == FEATURE].groupby("account_id", observed=True)["timestamp"].min()
        f = pd.DataFrame({"t": first, "seen": seen.reindex(first.index)})
        f = with_day(f[(f.t >= lo) & (f.t < hi)].rename(columns={"t": "timestamp"}))
        ttf = (
            f.assign(d=(f.timestamp - f.seen).dt.total_seconds() / 86400)
            .groupby("day")["d"]
            .median()
        )
        return pd.DataFrame(
            {"v": adopters.reindex(actives.index, fill_value=0) / actives, "ttf": ttf}
        )
    raise KeyError(metric)


# -- every contender's answer as {local day: value}, to check they computed the same thing -----
def as_values(result) -> dict[str, float]:
    """A small result (DuckDB rows, a polars or pandas frame or series) as {day: first value}."""
    import pandas as pd

    if isinstance(result, list):  # DuckDB fetchall(): (day, value, ...)
        pairs = [(r[0], r[1]) for r in result]
    elif isinstance(result, pd.Series):
        pairs = list(result.items())
    elif isinstance(result, pd.DataFrame):
        pairs = list(result.iloc[:, 0].items())
    else:  # polars DataFrame: day, value, ...
        pairs = list(zip(result.to_series(0).to_list(), result.to_series(1).to_list(), strict=True))
    out = {}
    for day, value in pairs:
        key = day.date().isoformat() if hasattr(day, "date") and callable(day.date) else str(day)
        out[key] = None if value is None or value != value else float(value)
    return out
