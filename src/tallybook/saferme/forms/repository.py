"""All SQL of forms, scoped to the organisation in the query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from tallybook.kit.memory import KnownCommitted
from tallybook.saferme.listing import ListFilter
from tallybook.saferme.models import FieldOption, Form, FormField
from tallybook.saferme.ranges import ObjectRange, fetch_page


@dataclass(frozen=True)
class FieldDef:
    """A field with its options (in display order; none for fields without choices)."""

    row: FormField
    options: list[FieldOption]


def forms_page(
    session: Session,
    organization_id: UUID,
    page: ObjectRange,
    ids: list[int] | None,
    listed: ListFilter,
) -> tuple[list[Form], int]:
    stmt = select(Form).where(Form.organization_id == organization_id)
    stmt = listed.apply(stmt, Form.updated_at)
    if ids is not None:
        stmt = stmt.where(Form.id.in_(ids))
    rows, total = fetch_page(session, stmt, (Form.id,), page)
    return [row[0] for row in rows], total


def form(session: Session, organization_id: UUID, form_id: int) -> Form | None:
    return session.scalar(
        select(Form).where(Form.organization_id == organization_id, Form.id == form_id)
    )


KNOWN_FIELDS: KnownCommitted[tuple[UUID, int], list[FieldDef]] = KnownCommitted("v4_forms_made")
"""Fields read of forms, by (organisation, form). Safe to keep: no route changes or
deletes a form, its fields or their options once made. The rows kept are expunged from
the session that read them: loaded, detached, only ever read."""


def field_defs(
    session: Session, organization_id: UUID, form_ids: Sequence[int]
) -> dict[int, list[FieldDef]]:
    """The fields of each form, in form order, with their options (one query for the forms
    this process has not read before)."""
    found: dict[int, list[FieldDef]] = {}
    for form_id in form_ids:
        remembered = KNOWN_FIELDS.get(session, (organization_id, form_id))
        if remembered is not None:
            found[form_id] = remembered
    missing = [form_id for form_id in form_ids if form_id not in found]
    if not missing:
        return found
    read = _read_field_defs(session, organization_id, missing)
    for form_id, defs in read.items():
        key = (organization_id, form_id)
        if not KNOWN_FIELDS.made_here(session, key):
            for field in defs:  # out of the session, so that its rollback expires none
                session.expunge(field.row)
                for option in field.options:
                    session.expunge(option)
            KNOWN_FIELDS.put(session, key, defs)
    return found | read


def _read_field_defs(
    session: Session, organization_id: UUID, form_ids: Sequence[int]
) -> dict[int, list[FieldDef]]:
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
    return dict(found)
