from __future__ import annotations

from fastapi import APIRouter

from tallybook.auth.dependencies import ReportingUser
from tallybook.evaluations import repository
from tallybook.evaluations.models import Evaluation
from tallybook.evaluations.schemas import EvaluationOut
from tallybook.kit.db import DBSession
from tallybook.kit.errors import error_responses
from tallybook.kit.ids import parse_id
from tallybook.kit.pagination import CursorPage, PageQuery, page_body, paginate
from tallybook.targets.service import get_target

router = APIRouter(
    prefix="/api/objectives/v1/orgs/{org_id}/workflows/{workflow_id}/targets/{target_id}",
    tags=["Conversational Reporting: history"],
    responses=error_responses(400, 401, 403, 404),
)


@router.get(
    "/evaluations",
    response_model=CursorPage[EvaluationOut],
    summary="List a target's evaluations of closed periods, latest period first",
)
def list_evaluations(
    session: DBSession, principal: ReportingUser, workflow_id: str, target_id: str, page: PageQuery
) -> object:
    target = get_target(
        session, principal, parse_id(workflow_id, "workflow"), parse_id(target_id, "target")
    )
    stmt = repository.evaluations_query(principal.organization_id, target.id)
    return page_body(paginate(session, stmt, Evaluation.period_start, Evaluation.id, page))
