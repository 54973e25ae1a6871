"""All SQL of forms, scoped to the organisation in the query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.saferme.models import FieldOption, Form, FormField
from tallybook.saferme.ranges import ObjectRange, fetch_page


@dataclass(frozen=True)
class FieldDef:
    """A field with its options (in display order; none for fields without choices)."""

    row: FormField
    options: list[FieldOption]


def forms_page(
    session: Session, organization_id: UUID, page: ObjectRange, ids: list[int] | None
) -> tuple[list[Form], int]:
    stmt = select(Form).where(Form.organization_id == organization_id)
    if ids is not None:
        stmt = stmt.where(Form.id.in_(ids))
    rows, total = fetch_page(session, stmt, (Form.id,), page)
    return [row[0] for row in rows], total


def form(session: Session, organization_id: UUID, form_id: int) -> Form | None:
    return session.scalar(
        select(Form).where(Form.organization_id == organization_id, Form.id == form_id)
    )


def field_defs(
    session: Session, organization_id: UUID, form_ids: Sequence[int]
) -> dict[int, list[FieldDef]]:
    """The fields of each form, in form order, with their options (one query)."""
    if not form_ids:
        return {}
    rows = session.execute(
        select(FormField, FieldOption)
        .outerjoin(FieldOption, FieldOption.field_id == FormField.id)
        .where(FormField.organization_id == organization_id, FormField.form_id.in_(form_ids))
        .order_by(
            FormField.form_id,
            FormField.form_order,
            FormField.id,
            FieldOption.display_order,
            FieldOption.id,
        )
    )
    found: dict[int, list[FieldDef]] = defaultdict(list)
    last: FieldDef | None = None
    for field, option in rows:
        if last is None or last.row is not field:
            last = FieldDef(field, [])
            found[field.form_id].append(last)
        if option is not None:
            last.options.append(option)
    return found
