"""Pydantic I/O for mail templates, notification rules, webhook subscriptions and bouncing
addresses."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TemplateIn(Strict):
    subject: str = Field(min_length=1, max_length=500)
    text_body: str = Field(min_length=1, max_length=100_000)
    html_body: str = Field(min_length=1, max_length=200_000)


class TemplateOut(Out):
    event: str
    subject: str
    text_body: str
    html_body: str
    customized: bool
    updated_at: datetime | None
    updated_by: str | None


class RuleIn(Strict):
    event: str = Field(min_length=1, max_length=32)
    recipients: list[str] = Field(max_length=10)
    enabled: bool = True


class RulesIn(Strict):
    rules: list[RuleIn] = Field(min_length=1, max_length=50)


class RuleOut(Out):
    event: str
    recipients: list[str]
    enabled: bool
    customized: bool


class RulesOut(BaseModel):
    rules: list[RuleOut]
    recipient_kinds: list[str]


class WebhookCreate(Strict):
    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=50)
    # Write-only: signs every delivery; the API never returns it.
    secret: str = Field(min_length=16, max_length=200, repr=False)
    description: str = Field(default="", max_length=200)
    active: bool = True


class WebhookOut(Out):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime
    created_by: str | None


class BouncingAddressOut(Out):
    address: str
    bounces: int
    first_at: datetime
    last_at: datetime
    last_status: str = Field(description="The last delivery report's action, status, diagnostic")
    last_incident_id: int | None
