"""Placeholder: routes arrive with the lifecycle issue."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
