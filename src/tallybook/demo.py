"""The demo organisation: a realistic sample to try the API on."""

from __future__ import annotations

import typer
from sqlalchemy import func, select

from tallybook.kit.db import Database
from tallybook.organizations.models import Organization
from tallybook.organizations.service import create_organization, create_token, create_user
from tallybook.targets.models import Target
from tallybook.workflows.models import Workflow

DEMO_QUERY = {
    "granularity": "all",
    "vendor": "com.example.shop",
    "aggregations": ["count"],
    "filters": {"type": "selector", "dimension": "category", "value": "lead"},
}


def load_demo_if_empty(database: Database, base_url: str) -> None:
    with database.unit_of_work() as session:
        empty = session.scalar(select(func.count()).select_from(Organization)) == 0
    if empty:
        load_demo(database, base_url)
    else:
        typer.echo(
            "The data directory already has organisations; the demo was not loaded again.\n"
            "Make a new token with: tallybook admin create-token --user <user id>",
            err=True,
        )


def load_demo(database: Database, base_url: str) -> None:
    with database.unit_of_work() as session:
        org = create_organization(session, "Demo Shop", "Europe/Helsinki")
        user = create_user(
            session,
            org.id,
            "demo@example.com",
            first_name="Demo",
            last_name="User",
            permissions=["reporting", "settings"],
            is_manager=True,
        )
        token = create_token(session, user.id)
        workflow = Workflow(
            organization_id=org.id,
            created_by_user=user.id,
            updated_by_user=user.id,
            name="Grow the webshop",
            description="Leads and sales of the demo shop",
        )
        session.add(workflow)
        session.flush()
        session.add(
            Target(
                organization_id=org.id,
                workflow_id=workflow.id,
                name="At least 50 leads a day",
                reporting_bound="LOWER",
                reporting_threshold=50,
                reporting_query=DEMO_QUERY,
                reporting_field="count",
                reporting_period="P1D",
            )
        )
        session.flush()
        org_id = org.id
    api = f"{base_url}/api/objectives/v1/orgs/{org_id}"
    auth = f'-H "Authorization: Token {token}"'
    typer.echo(
        f"""
Demo organisation loaded: {org_id}
API token (shown only now): {token}

Try:
  curl {auth} {api}/workflows
  curl {auth} -H "Content-Type: application/json" -X POST {api}/workflows \\
       -d '{{"name": "Halve churn", "description": "Monthly churn below 2%"}}'
  curl {auth} {api}/workflows/{workflow.id}/targets
"""
    )
