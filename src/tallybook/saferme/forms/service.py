"""Forms: creating one with its fields and options, reading them."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import orjson
from sqlalchemy.orm import Session

from tallybook.kit.errors import InvalidPayload, NotFound
from tallybook.saferme.auth import TeamMember
from tallybook.saferme.forms import repository
from tallybook.saferme.forms.repository import FieldDef
from tallybook.saferme.forms.schemas import FieldCreate, Form, FormCreate, FormFieldOut
from tallybook.saferme.listing import EVERY, ListFilter
from tallybook.saferme.models import FieldOption, FormField
from tallybook.saferme.models import Form as FormRow
from tallybook.saferme.ranges import ObjectRange
from tallybook.saferme.types import CHOICE_TYPES, FieldType

MULTI_SELECT_TYPES = frozenset({FieldType.CHECK_BOX, FieldType.DROP_DOWN})
"""Choice fields that may allow several options; Category and the radios hold one."""


def field_data(field: FieldDef) -> dict[str, Any] | None:
    """SaferMe's ``data`` of a choice field (None for other fields)."""
    if field.row.field_type not in CHOICE_TYPES:
        return None
    return {
        "multi_select": field.row.multi_select,
        "options": [
            {
                "label": option.label,
                "value": option.value,
                "enabled": option.enabled,
                "multi_option_id": field.row.id,
                "display_order": option.display_order,
                "is_default": option.is_default,
            }
            for option in field.options
        ],
    }


def field_out(field: FieldDef) -> FormFieldOut:
    data = field_data(field)
    return FormFieldOut(
        id=field.row.id,
        label=field.row.label,
        key=field.row.key,
        field_type=field.row.field_type,
        form_order=field.row.form_order,
        data=orjson.dumps(data).decode() if data is not None else "",
        mandatory=field.row.mandatory,
    )


def form_out(member: TeamMember, row: FormRow, fields: list[FieldDef]) -> Form:
    return Form(
        id=row.id,
        uuid=row.uuid,
        name=row.name,
        team_id=member.team_id,
        version=row.version,
        updated_at=row.updated_at,
        fields=[field_out(field) for field in fields],
    )


def _check_field(index: int, field: FieldCreate) -> list[dict[str, Any]]:
    loc: list[str | int] = ["body", "form", "fields", index]
    options = field.data.options if field.data else None
    multi = field.data.multi_select if field.data else None
    kind = FieldType(field.field_type)
    if kind in CHOICE_TYPES:
        if not options:
            return [{"loc": [*loc, "data", "options"], "msg": f"A {kind} field needs options."}]
        labels = [option.label for option in options]
        if len(set(labels)) != len(labels):
            return [{"loc": [*loc, "data", "options"], "msg": "Option labels must differ."}]
        if multi and kind not in MULTI_SELECT_TYPES:
            msg = f"A {kind} field holds one option; multi_select must be false."
            return [{"loc": [*loc, "data", "multi_select"], "msg": msg}]
        return []
    if options is not None:
        msg = "Only Category, CheckBox, DropDown, Radio and RadioButton fields have options."
        return [{"loc": [*loc, "data", "options"], "msg": msg}]
    if multi:
        return [{"loc": [*loc, "data", "multi_select"], "msg": "Only choice fields select."}]
    return []


def create_form(session: Session, member: TeamMember, data: FormCreate) -> Form:
    errors = [e for i, field in enumerate(data.fields) for e in _check_field(i, field)]
    if errors:
        raise InvalidPayload(errors)
    form = FormRow(organization_id=member.organization_id, name=data.name)
    session.add(form)
    session.flush()
    # not remembered by field_defs until committed (this transaction could still roll back)
    repository.KNOWN_FIELDS.made(session, (member.organization_id, form.id))
    rows = [
        FormField(
            organization_id=member.organization_id,
            form_id=form.id,
            key=f"pending-{uuid4().hex}",  # the key names the field's id, known once written
            label=field.label,
            field_type=field.field_type,
            form_order=order,
            mandatory=bool(field.mandatory),
            multi_select=_multi_select(field),
        )
        for order, field in enumerate(data.fields)
    ]
    session.add_all(rows)
    session.flush()
    defs = []
    for row, field in zip(rows, data.fields, strict=True):
        row.key = f"f_{member.team_id}_{form.id}_{row.id}"
        options = [
            FieldOption(
                field_id=row.id,
                value=f"{row.key}_{n}",
                label=option.label,
                display_order=n - 1,
                enabled=option.enabled,
                is_default=option.is_default,
            )
            for n, option in enumerate((field.data.options if field.data else None) or [], 1)
        ]
        session.add_all(options)
        defs.append(FieldDef(row, options))
    session.flush()
    return form_out(member, form, defs)


def _multi_select(field: FieldCreate) -> bool:
    if field.data is not None and field.data.multi_select is not None:
        return field.data.multi_select
    return FieldType(field.field_type) == FieldType.CHECK_BOX


def list_forms(
    session: Session,
    member: TeamMember,
    page: ObjectRange,
    ids: list[int] | None,
    listed: ListFilter = EVERY,
) -> tuple[list[Form], int]:
    rows, total = repository.forms_page(session, member.organization_id, page, ids, listed)
    fields = repository.field_defs(session, member.organization_id, [row.id for row in rows])
    return [form_out(member, row, fields.get(row.id, [])) for row in rows], total


def get_form(session: Session, member: TeamMember, form_id: int) -> Form:
    row = repository.form(session, member.organization_id, form_id)
    if row is None:
        raise NotFound("No such form.")
    fields = repository.field_defs(session, member.organization_id, [row.id])
    return form_out(member, row, fields.get(row.id, []))
