"""A report's ``form_fields`` checked against its channel's form.

Pure: given the form's fields, the values sent (and, for a change, the values the report
has), it returns the values to store, the option selections and the attachments placed,
or every error at once. Which attachments exist is asked by the caller afterwards
(:func:`attachment_errors`), so that this module never touches the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tallybook.saferme.forms.repository import FieldDef
from tallybook.saferme.ids import MAX_ID
from tallybook.saferme.reports.schemas import FormFieldValue
from tallybook.saferme.types import ATTACHMENT_TYPES, CHOICE_TYPES, DISPLAY_TYPES, FieldType

MAX_TEXT = 10_000
MAX_ITEMS = 200

TEXT_TYPES = frozenset({FieldType.SHORT_TEXT_BOX, FieldType.LONG_TEXT_BOX, FieldType.DESCRIPTION})
TEXT_LIST_TYPES = frozenset(
    {FieldType.BULLETED_LIST, FieldType.NUMBERED_LIST, FieldType.EXTERNAL_ATTENDEES}
)

Error = dict[str, Any]


@dataclass
class CheckedValues:
    values: dict[str, Any]
    """Field key → value, for every field that has one (the report's ``form_values``)."""
    selections: list[tuple[int, int]] = field(default_factory=list)
    """(field id, option id) of every option selected."""
    attachments: list[tuple[int, int]] = field(default_factory=list)
    """(field id, attachment id) of every attachment placed."""
    errors: list[Error] = field(default_factory=list)


def check(
    fields: list[FieldDef],
    given: list[FormFieldValue],
    loc: list[str | int],
    existing: Mapping[str, Any] | None = None,
) -> CheckedValues:
    """``given`` over ``existing`` (a PATCH changes only the keys it sends)."""
    by_key = {f.row.key: f for f in fields}
    values = dict(existing or {})
    errors: list[Error] = []
    seen: set[str] = set()
    for index, item in enumerate(given):
        here = [*loc, index]
        if item.key in seen:
            errors.append({"loc": [*here, "key"], "msg": "This key is given twice."})
            continue
        seen.add(item.key)
        found = by_key.get(item.key)
        if found is None:
            errors.append({"loc": [*here, "key"], "msg": "No field with this key in the form."})
            continue
        problem = _value_problem(found, item.value)
        if problem is not None:
            errors.append({"loc": [*here, "value"], "msg": problem})
        elif _is_empty(item.value):
            values.pop(item.key, None)
        else:
            values[item.key] = item.value
    values = {key: value for key, value in values.items() if key in by_key}
    for f in fields:
        if f.row.mandatory and _is_empty(values.get(f.row.key)):
            msg = f"The field {f.row.label!r} ({f.row.key}) is mandatory."
            errors.append({"loc": loc, "msg": msg})
    result = CheckedValues(values, errors=errors)
    if not errors:
        _collect(fields, result)
    return result


def _collect(fields: list[FieldDef], result: CheckedValues) -> None:
    placed: set[int] = set()
    for f in fields:
        value = result.values.get(f.row.key)
        if value is None:
            continue
        if f.row.field_type in CHOICE_TYPES:
            chosen = value if isinstance(value, list) else [value]
            by_value = {option.value: option.id for option in f.options}
            result.selections.extend((f.row.id, by_value[v]) for v in chosen)
        elif f.row.field_type in ATTACHMENT_TYPES:
            for attachment_id in value:
                if attachment_id in placed:
                    msg = f"File attachment {attachment_id} is given more than once."
                    result.errors.append({"loc": ["body", "report", "form_fields"], "msg": msg})
                placed.add(attachment_id)
                result.attachments.append((f.row.id, attachment_id))


def attachment_errors(
    attachments: list[tuple[int, int]],
    known: set[int],
    placed_in: Mapping[int, int],
    report_id: int | None,
) -> list[Error]:
    """Attachments that are not the team's, or already in another report."""
    errors: list[Error] = []
    for _field_id, attachment_id in attachments:
        if attachment_id not in known:
            msg = f"No file attachment {attachment_id} in this team."
        elif placed_in.get(attachment_id, report_id) != report_id:
            msg = f"File attachment {attachment_id} is already in another report."
        else:
            continue
        errors.append({"loc": ["body", "report", "form_fields"], "msg": msg})
    return errors


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _value_problem(f: FieldDef, value: Any) -> str | None:
    """Why ``value`` cannot be this field's value, or None."""
    if value is None:
        return None
    kind = FieldType(f.row.field_type)
    if kind in CHOICE_TYPES:
        return _choice_problem(f, value)
    if kind in TEXT_TYPES:
        ok = isinstance(value, str) and len(value) <= MAX_TEXT
        return None if ok else f"must be a text of at most {MAX_TEXT} characters"
    if kind in TEXT_LIST_TYPES:
        return None if _list_of(value, str) else "must be a list of texts"
    if kind == FieldType.INTERNAL_ATTENDEES:
        return None if _list_of(value, int) else "must be a list of user ids"
    if kind in ATTACHMENT_TYPES:
        if not _list_of(value, int) or not all(1 <= v <= MAX_ID for v in value):
            return "must be a list of file attachment ids"
        return None if len(set(value)) == len(value) else "names an attachment twice"
    if kind == FieldType.INTEGER_RANGE:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok and abs(value) <= MAX_ID else "must be an integer"
    if kind == FieldType.DATE_AND_TIME:
        return None if _is_timestamp(value) else "must be an ISO 8601 date-time string"
    if kind in DISPLAY_TYPES:
        return f"A {kind} field has no value of its own; send null."
    return None  # pragma: no cover - every FieldType is handled above


def _choice_problem(f: FieldDef, value: Any) -> str | None:
    allowed = {option.value for option in f.options if option.enabled}
    if f.row.multi_select:
        if not _list_of(value, str):
            return "must be a list of option values of the field"
        if len(set(value)) != len(value):
            return "names an option twice"
        chosen = value
    else:
        if not isinstance(value, str):
            return "must be one option value of the field"
        chosen = [value]
    if any(v not in allowed for v in chosen):
        return "is not one of the field's (enabled) option values"
    return None


def _list_of(value: Any, kind: type) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= MAX_ITEMS
        and all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
        and (kind is not str or all(len(v) <= MAX_TEXT for v in value))
    )


def _is_timestamp(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 64:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True
