"""A plain-Python answer to workflow source data, from DESIGN §7 as written.

It reads :class:`StoredEvent` objects directly and shares no code with the SQL of
``tallybook.funnels``: the path rule is an "exists an earlier event" search, the goals a
scan per goal. Agreement between the two is evidence that both read DESIGN §7 the same way.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tallybook.events.records import StoredEvent

PATH_TYPES = ("web_navigation", "interaction")


@dataclass(frozen=True)
class Question:
    organization_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_type: str
    start: datetime
    end: datetime
    step_data: list[list[str]] | None = None
    filters: list[dict[str, Any]] = field(default_factory=list)

    def listed(self, step: int) -> list[str]:
        """The actions that count at ``step`` (empty: all); step 0 and other types: all."""
        if self.workflow_type not in PATH_TYPES or self.step_data is None or step == 0:
            return []
        return self.step_data[step] if step < len(self.step_data) else []


def _in_scope(q: Question, e: StoredEvent) -> bool:
    return e.organization_id == q.organization_id and q.start <= e.timestamp < q.end


def _is_step_event(q: Question, e: StoredEvent) -> bool:
    return _in_scope(q, e) and e.label == str(q.workflow_id) and e.dim5 is not None


def counts(q: Question, events: Sequence[StoredEvent], e: StoredEvent) -> bool:
    """DESIGN §7: an event of step n counts when its action is listed for n (if n lists
    any) and its session had, at or before it, a listed action of every earlier k ≥ 1."""
    assert e.dim5 is not None
    n = int(e.dim5)
    if q.listed(n) and e.action not in q.listed(n):
        return False
    for k in range(1, n):
        wanted = q.listed(k)
        if not wanted:
            continue
        passed = any(
            _is_step_event(q, x)
            and x.dim5 == str(k)
            and x.action in wanted
            and e.session_id is not None
            and x.session_id == e.session_id
            and x.timestamp <= e.timestamp
            for x in events
        )
        if not passed:
            return False
    return True


def step_rows(q: Question, events: Sequence[StoredEvent], step: int) -> list[StoredEvent]:
    return [
        e
        for e in events
        if _is_step_event(q, e) and e.dim5 == str(step) and counts(q, events, e) and matches(q, e)
    ]


def triggered_goals(q: Question, events: Sequence[StoredEvent], step: int) -> list[StoredEvent]:
    reached = [
        e for e in events if _is_step_event(q, e) and e.dim5 == str(step) and counts(q, events, e)
    ]
    return [
        g
        for g in _goals(q, events)
        if g.session_id is not None
        and any(r.session_id == g.session_id and r.timestamp <= g.timestamp for r in reached)
    ]


def affected_goals(q: Question, events: Sequence[StoredEvent]) -> list[StoredEvent]:
    reached = [
        e
        for e in events
        if _is_step_event(q, e) and _step_index(e.dim5) is not None and counts(q, events, e)
    ]
    return [
        g
        for g in _goals(q, events)
        if g.visitor_id is not None
        and any(r.visitor_id == g.visitor_id and r.timestamp <= g.timestamp for r in reached)
    ]


def all_goals(q: Question, events: Sequence[StoredEvent]) -> list[StoredEvent]:
    return list(_goals(q, events))


def _goals(q: Question, events: Sequence[StoredEvent]) -> list[StoredEvent]:
    return [e for e in events if _in_scope(q, e) and e.category == "goal" and matches(q, e)]


# -- filters ------------------------------------------------------------------------------


def matches(q: Question, e: StoredEvent) -> bool:
    return all(_matches(spec["property"], spec["values"], e) for spec in q.filters)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _matches(name: str, values: list[Any], e: StoredEvent) -> bool:
    actual = getattr(e, name)
    if name == "value":
        return any(v is not None and math.isclose(float(v), actual, rel_tol=0) for v in values)
    if name == "timestamp":
        for v in values:
            if v is None:
                continue
            at = datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(UTC)
            if at <= actual < at + timedelta(milliseconds=1):
                return True
        return False
    wanted = {_text(v) for v in values}
    if isinstance(actual, tuple):
        return any(x in wanted for x in actual) or (not actual and None in wanted)
    return _text(actual) in wanted


# -- rows as the API shows them -----------------------------------------------------------


def timestamp_text(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


RAW: dict[str, Callable[[StoredEvent], Any]] = {
    "timestamp": lambda e: timestamp_text(e.timestamp),
    "organization_id": lambda e: str(e.organization_id),
    "properties": lambda e: list(e.properties),
    "partner_organization_ids": lambda e: list(e.partner_organization_ids),
}


def raw_object(e: StoredEvent) -> dict[str, Any]:
    names = [
        "timestamp", "source", "event_version", "organization_id", "organization_name",
        "category", "action", "label", "vendor", "properties", "dim1", "dim2", "dim3", "dim4",
        "dim5", "visitor_id", "session_id", "user_id", "partner_organization_ids",
        "browser_name", "browser_version", "device_screen_height", "device_screen_width",
        "device_type", "geo_city", "geo_country", "ip_organization", "os_name", "os_version",
        "value",
    ]  # fmt: skip
    return {name: RAW[name](e) if name in RAW else getattr(e, name) for name in names}


def basic_object(e: StoredEvent, workflow_id: uuid.UUID) -> dict[str, Any]:
    return {
        "Date & Time": timestamp_text(e.timestamp),
        "View title": e.dim4,
        "Browser": e.browser_name,
        "Device": e.device_type,
        "City": e.geo_city,
        "Country": e.geo_country,
        "ISP or organisation": e.ip_organization,
        "OS (operating system)": e.os_name,
        "Interaction Workflow ID": str(workflow_id),
        "Workflow Session ID": e.session_id,
        "Visitor ID": e.visitor_id,
    }


def _nulls_first(value: str | None) -> tuple[int, str]:
    return (0, "") if value is None else (1, value)


def order_key(e: StoredEvent) -> tuple[Any, ...]:
    """Timestamp order, ties broken as the API breaks them (nulls first)."""
    return (
        e.timestamp,
        _nulls_first(e.session_id),
        _nulls_first(e.visitor_id),
        _nulls_first(e.dim5),
        _nulls_first(e.action),
        _nulls_first(e.label),
    )


def ordered(rows: Sequence[StoredEvent]) -> list[StoredEvent]:
    return sorted(rows, key=order_key)


# -- the funnel chart ---------------------------------------------------------------------


def _step_index(dim5: str | None) -> int | None:
    """Steps as the step endpoint names them: ``0``, ``1``, … without leading zeros."""
    if dim5 is None or not dim5.isascii() or not dim5.isdigit() or len(dim5) > 9:
        return None
    return int(dim5) if str(int(dim5)) == dim5 else None


def chart(q: Question, events: Sequence[StoredEvent]) -> dict[str, Any]:
    """The funnel chart as docs/api.md defines it, by brute force over :func:`step_rows`:
    conversion = distinct sessions at step n / distinct sessions at step 0; a link counts
    the sessions with an event of action a at step k and one of action b at step k + 1 at
    the same time or later."""
    indices = sorted(
        {i for e in events if _is_step_event(q, e) and (i := _step_index(e.dim5)) is not None}
    )
    counted = {i: step_rows(q, events, i) for i in indices}
    counted = {i: rows for i, rows in counted.items() if rows}

    def stats(rows: list[StoredEvent]) -> dict[str, int]:
        return {
            "events": len(rows),
            "visitors": len({e.visitor_id for e in rows if e.visitor_id is not None}),
            "sessions": len({e.session_id for e in rows if e.session_id is not None}),
        }

    base = stats(counted[0])["sessions"] if 0 in counted else 0
    steps = []
    for i, rows in sorted(counted.items()):
        actions: list[dict[str, Any]] = []
        for action in {e.action for e in rows}:
            actions.append({"action": action, **stats([e for e in rows if e.action == action])})
        actions.sort(key=lambda a: (-a["events"], a["action"] is not None, a["action"] or ""))
        total = stats(rows)
        steps.append(
            {
                "index": i,
                "name": min((e.dim4 for e in rows if e.dim4 is not None), default=None),
                **total,
                "conversion": total["sessions"] / base if base else None,
                "actions": actions,
            }
        )
    links = []
    for k in sorted(counted):
        if k + 1 not in counted:
            continue
        pairs: dict[tuple[str | None, str | None], set[str]] = {}
        for a in counted[k]:
            for b in counted[k + 1]:
                if (
                    a.session_id is not None
                    and a.session_id == b.session_id
                    and b.timestamp >= a.timestamp
                ):
                    pairs.setdefault((a.action, b.action), set()).add(a.session_id)
        for (from_action, to_action), sessions in pairs.items():
            links.append(
                {
                    "from_step": k,
                    "from_action": from_action,
                    "to_step": k + 1,
                    "to_action": to_action,
                    "sessions": len(sessions),
                }
            )
    links.sort(
        key=lambda link: (
            link["from_step"],
            link["from_action"] is not None,
            link["from_action"] or "",
            link["to_action"] is not None,
            link["to_action"] or "",
        )
    )
    return {"steps": steps, "links": links}
