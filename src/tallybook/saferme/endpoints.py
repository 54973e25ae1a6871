"""Every v4 router, for the app's ROUTERS."""

from __future__ import annotations

from fastapi import APIRouter

from tallybook.saferme.alerts.endpoints import router as alerts_router
from tallybook.saferme.analytics.endpoints import router as analytics_router
from tallybook.saferme.channels.endpoints import router as channels_router
from tallybook.saferme.files.endpoints import router as files_router
from tallybook.saferme.forms.endpoints import router as forms_router
from tallybook.saferme.reports.endpoints import router as reports_router

ROUTERS: tuple[APIRouter, ...] = (
    reports_router,  # first: reports are created in bulk (see tallybook.app.ROUTERS)
    channels_router,
    forms_router,
    files_router,
    alerts_router,
    analytics_router,
)
