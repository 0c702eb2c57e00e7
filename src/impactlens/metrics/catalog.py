"""Load and validate metrics.yaml into a :class:`MetricCatalog`.

Validation collects every problem (file, line, field, reason, hint) before it
raises, so a user fixes the file in one pass. With a warehouse, event names
that never occur in the data become warnings naming the closest known names.

>>> catalog = parse_metrics('''
... metrics:
...   - {name: reports, kind: count, event: Report Created, higher_is_better: true}
... ''')
>>> catalog.get("reports").kind
'count'
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError as PydanticValidationError

from impactlens.errors import NotFoundError, Problem, ProblemList, UserError, ValidationError
from impactlens.metrics.fields import SOURCE_NAMESPACES, parse_field
from impactlens.metrics.spec import (
    KIND_MODELS,
    EventCount,
    EventStep,
    Metric,
    RatioMetric,
    referenced_events,
)

RATIO_PART_KINDS = ("count", "unique")
SOURCE_OF_KIND = {"survey": "surveys", "tickets": "tickets", "revenue": "revenue"}


@dataclass(frozen=True)
class MetricCatalog:
    """The validated metrics of a workspace, in file order."""

    metrics: tuple[Metric, ...]
    path: Path | None = None
    warnings: tuple[Problem, ...] = ()

    def __iter__(self) -> Iterator[Metric]:
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)

    def __contains__(self, name: object) -> bool:
        return any(m.name == name for m in self.metrics)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)

    def get(self, name: str) -> Metric:
        """The metric called ``name``; NotFoundError suggests the closest names."""
        for metric in self.metrics:
            if metric.name == name:
                return metric
        close = difflib.get_close_matches(name, self.names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise NotFoundError(f"no metric named {name!r} in {self.path or 'metrics.yaml'}{hint}")

    def groups(self) -> dict[str, tuple[Metric, ...]]:
        """North star first, then leading and lagging indicators, then the rest."""
        order = {
            "north star": lambda m: m.north_star,
            "leading": lambda m: not m.north_star and m.indicator == "leading",
            "lagging": lambda m: not m.north_star and m.indicator == "lagging",
            "other": lambda m: not m.north_star and m.indicator is None,
        }
        return {k: tuple(m for m in self.metrics if test(m)) for k, test in order.items()}


def load_metrics(path: Path | str, warehouse: Any = None) -> MetricCatalog:
    """Read and validate ``metrics.yaml``; with a warehouse, warn on unseen event names."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; run `impactlens init` to write a starter file")
    known = known_event_names(warehouse) if warehouse is not None else None
    return parse_metrics(path.read_text(), file=str(path), known_events=known)


def known_event_names(warehouse: Any) -> tuple[str, ...]:
    """Distinct event names in the warehouse (one small query)."""
    events = warehouse.table("events")
    rows = events.select("event").distinct().to_pyarrow()
    return tuple(sorted(v for v in rows.column("event").to_pylist() if v is not None))


def parse_metrics(
    text: str, *, file: str = "metrics.yaml", known_events: tuple[str, ...] | None = None
) -> MetricCatalog:
    """Validate the text of a metrics.yaml; raise ValidationError listing every problem."""
    problems = ProblemList()
    try:
        root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ValidationError([Problem(f"not valid YAML: {exc}", file=file, line=line)]) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("metrics"), list):
        raise ValidationError(
            [
                Problem(
                    "expected a mapping with a `metrics:` list",
                    file=file,
                    hint="see docs/metrics.md",
                )
            ]
        )
    extra = sorted(set(raw) - {"metrics"})
    for key in extra:
        problems.add(
            f"unknown top-level key {key!r}", file=file, line=_line(root, (key,)), field=key
        )
    metrics: list[Metric] = []
    for index, item in enumerate(raw["metrics"]):
        metric = _parse_one(item, index, root, file, problems)
        if metric is not None:
            metrics.append(metric)
    _check_catalog(metrics, root, raw["metrics"], file, problems)
    problems.raise_if_any(f"{file} has {len(problems.items)} problem(s)")
    by_name = {m.name: m for m in metrics}
    for metric in metrics:
        if isinstance(metric, RatioMetric):
            for ref in (metric.numerator, metric.denominator):
                if isinstance(ref, str):
                    metric._parts[ref] = by_name[ref]
    warnings = _unseen_events(metrics, root, raw["metrics"], file, known_events)
    return MetricCatalog(tuple(metrics), Path(file), tuple(warnings))


def _parse_one(item: Any, index: int, root: Any, file: str, problems: ProblemList) -> Metric | None:
    where = ("metrics", index)
    if not isinstance(item, dict):
        problems.add("each metric is a mapping", file=file, line=_line(root, where))
        return None
    label = f"metrics[{index}]" + (
        f" ({item['name']})" if isinstance(item.get("name"), str) else ""
    )
    kind = item.get("kind")
    model = KIND_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        close = difflib.get_close_matches(str(kind), KIND_MODELS, n=1)
        problems.add(
            f"{label}: unknown kind {kind!r}"
            if kind is not None
            else f"{label}: `kind` is missing",
            file=file,
            line=_line(root, (*where, "kind")) or _line(root, where),
            field="kind",
            hint=(f"did you mean {close[0]!r}? " if close else "")
            + f"kinds: {', '.join(KIND_MODELS)}",
        )
        return None
    try:
        return model.model_validate(item)  # type: ignore[return-value]
    except PydanticValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc)
            hint = None
            if err["type"] == "extra_forbidden":
                allowed = list(model.model_fields)
                close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
                hint = (f"did you mean {close[0]!r}? " if close else "") + (
                    f"{kind} metrics take: {', '.join(allowed)}"
                )
            reason = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                reason = f"unknown field {loc[-1]!r}"
            problems.add(
                f"{label}: {reason}",
                file=file,
                line=_line(root, (*where, *loc)) or _line(root, where),
                field=field,
                hint=hint,
            )
        return None


def _check_catalog(
    metrics: list[Metric], root: Any, items: list[Any], file: str, problems: ProblemList
) -> None:
    index_of: dict[str, int] = {}
    for i, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            index_of.setdefault(item["name"], i)
    by_name: dict[str, Metric] = {}
    for metric in metrics:
        at = index_of.get(metric.name, 0)
        if metric.name in by_name:
            problems.add(
                f"metric {metric.name!r} is defined twice",
                file=file,
                line=_line(root, ("metrics", at, "name")),
                field="name",
                hint="metric names must be unique",
            )
        by_name[metric.name] = metric
    names = [m.name for m in metrics]
    for metric in metrics:
        at = index_of.get(metric.name, 0)
        source = SOURCE_OF_KIND.get(metric.kind, "events")
        fields = [(f"filters[{i}].field", f.field) for i, f in enumerate(metric.filters)]
        fields += _nested_filter_fields(metric)
        fields += [(f"segments[{i}]", s) for i, s in enumerate(metric.segments)]
        for loc, text in fields:
            try:
                ref = parse_field(text)
            except ValueError as exc:
                problems.add(
                    str(exc), file=file, line=_line(root, ("metrics", at, *_loc(loc))), field=loc
                )
                continue
            if ref.namespace not in SOURCE_NAMESPACES[source]:
                problems.add(
                    f"{metric.name}: {text!r} cannot apply to a {metric.kind} metric (it reads {source})",
                    file=file,
                    line=_line(root, ("metrics", at, *_loc(loc))),
                    field=loc,
                    hint=f"use one of: {', '.join(n + '.' for n in SOURCE_NAMESPACES[source])}",
                )
        if (
            metric.kind == "tickets"
            and metric.stat == "per_active_account"
            and metric.actor != "account"
        ):
            problems.add(
                f"{metric.name}: tickets per active account needs actor: account",
                file=file,
                line=_line(root, ("metrics", at, "actor")) or _line(root, ("metrics", at)),
                field="actor",
            )
        if isinstance(metric, RatioMetric):
            for part in ("numerator", "denominator"):
                ref = getattr(metric, part)
                if isinstance(ref, EventCount):
                    continue
                line = _line(root, ("metrics", at, part))
                if ref not in by_name:
                    close = difflib.get_close_matches(ref, names, n=3)
                    problems.add(
                        f"{metric.name}: {part} refers to a metric {ref!r} that is not defined",
                        file=file,
                        line=line,
                        field=part,
                        hint=f"did you mean {', '.join(close)}?"
                        if close
                        else "define it, or write an inline {event: ..., aggregate: events|actors}",
                    )
                elif by_name[ref].kind not in RATIO_PART_KINDS:
                    problems.add(
                        f"{metric.name}: {part} {ref!r} is a {by_name[ref].kind} metric",
                        file=file,
                        line=line,
                        field=part,
                        hint="a ratio divides count or unique metrics",
                    )


def _nested_filter_fields(metric: Metric) -> list[tuple[str, str]]:
    """Filters of funnel steps and inline ratio parts, with their location."""
    out = []
    for attr in ("from_event", "to_event", "numerator", "denominator"):
        part = getattr(metric, attr, None)
        if isinstance(part, EventStep | EventCount):
            out += [(f"{attr}.filters[{i}].field", f.field) for i, f in enumerate(part.filters)]
    for k, step in enumerate(getattr(metric, "steps", ())):
        out += [(f"steps[{k}].filters[{i}].field", f.field) for i, f in enumerate(step.filters)]
    return out


def _unseen_events(
    metrics: list[Metric], root: Any, items: list[Any], file: str, known: tuple[str, ...] | None
) -> list[Problem]:
    if known is None:
        return []
    index_of = {
        item["name"]: i for i, item in enumerate(items) if isinstance(item, dict) and "name" in item
    }
    warnings = []
    for metric in metrics:
        for name in referenced_events(metric):
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            warnings.append(
                Problem(
                    f"{metric.name}: event {name!r} never occurs in the data",
                    file=file,
                    line=_line(root, ("metrics", index_of.get(metric.name, 0))),
                    field="event",
                    hint=f"closest known: {', '.join(close)}" if close else "no similar event name",
                )
            )
    return warnings


def _loc(text: str) -> tuple[Any, ...]:
    parts: list[Any] = []
    for piece in text.replace("]", "").split("."):
        name, _, idx = piece.partition("[")
        parts.append(name)
        if idx:
            parts.append(int(idx))
    return tuple(parts)


def _line(node: Any, path: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at ``path`` (keys and list indexes), if it exists."""
    if node is None:
        return None
    best: int | None = node.start_mark.line + 1
    for step in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(step)), None)
            key = next((k for k, v in node.value if getattr(k, "value", None) == str(step)), None)
            if match is None or key is None:
                return best
            best, node = key.start_mark.line + 1, match
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value)
        ):
            node = node.value[step]
            best = node.start_mark.line + 1
        else:
            return best
    return best
