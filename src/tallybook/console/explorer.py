from __future__ import annotations

from fastapi import APIRouter

from tallybook.console.web import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute)
