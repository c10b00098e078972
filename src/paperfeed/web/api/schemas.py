"""Pydantic models of the JSON API, for the OpenAPI schema (and the tests).

The routes never build these models: they serialise plain dicts with orjson (see
serialize.py) and return the bytes, which is several times faster than FastAPI's
``jsonable_encoder`` path. ``tests/api`` validates real responses against these models, so
the schema and the bytes cannot drift apart.

Field names follow the Hugging Face Daily Papers API (camelCase, ``_id``), so that
``huggingface_hub.HfApi(endpoint=...)`` parses the responses unchanged. Every timestamp is
UTC, written as ``2025-03-03T12:00:00.000Z``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class Author(_Model):
    id: str = Field(alias="_id", description="Stable opaque id of this author entry.")
    name: str
    hidden: bool = False


class UserRef(_Model):
    id: str = Field(alias="_id", description="Stable opaque id derived from the username.")
    user: str = Field(description="Username.")
    fullname: str
    avatarUrl: str = Field(description="Avatar URL; empty when the site has none.")
    type: Literal["user"] = "user"


class OrganizationRef(_Model):
    name: str
    fullname: str
    avatarUrl: str = Field(description="Avatar URL; empty when the site has none.")


class Paper(_Model):
    """A paper, as ``/api/papers/{id}`` returns it and as it is nested in a daily item."""

    id: str = Field(description="arXiv id, without version.")
    authors: list[Author]
    publishedAt: dt.datetime | None = Field(description="arXiv publication time (UTC).")
    submittedOnDailyAt: dt.datetime | None = Field(
        description="When the paper was last put on a daily list (UTC); null if never."
    )
    title: str
    summary: str = Field(description="The abstract.")
    upvotes: int
    discussionId: str = Field(description="Stable opaque id of the paper's discussion.")
    ai_summary: str | None
    ai_keywords: list[str] | None
    githubRepo: str | None
    githubStars: int | None
    projectPage: str | None
    mediaUrls: list[str] | None = Field(
        default=None, description="Media the listing links (videos, figures); only when known."
    )
    numComments: int | None = None
    submittedOnDailyBy: UserRef | None = None
    organization: OrganizationRef | None = None


class DailyPaper(_Model):
    """One entry of a daily list (the shape of Hugging Face's ``/api/daily_papers`` items)."""

    paper: Paper
    publishedAt: dt.datetime = Field(
        description="When the paper was put on the daily list (UTC), as Hugging Face does."
    )
    title: str
    summary: str
    thumbnail: str | None = None
    numComments: int
    submittedBy: UserRef | None = None
    organization: OrganizationRef | None = None
    isAuthorParticipating: bool = False


class RecommendedPaper(Paper):
    """One of ``/api/recommendations``: the paper object of ``/api/papers/{id}``, and why."""

    score: float = Field(
        description="How well it fits the reader; compare only within one answer (one method)."
    )
    reason: str = Field(description="Why it is recommended, for a person.")


class NotInterested(_Model):
    """The state of "not interested" for one paper, after the change."""

    id: str = Field(description="arXiv id, as in the path.")
    notInterested: bool


class ErrorBody(_Model):
    error: str = Field(description="What was wrong with the request.")


class NamedPapersOut(_Model):
    """An author's or organization's papers, newest first (``/api/authors/{name}``,
    ``/api/orgs/{name}``)."""

    name: str = Field(description="The name as the newest of its papers writes it.")
    total: int = Field(description="How many papers have this name, on all pages.")
    papers: list[Paper] = Field(description="This page of them (``p``, ``limit``).")


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "Malformed parameter."},
}
NOT_FOUND_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "No such paper."},
}


BAD_REQUEST = 'Malformed parameter or body (`{"error": ...}`).'
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def document_bad_requests(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI schema as the API answers: FastAPI documents a 422 for every operation
    with parameters, but the app answers malformed input with a 400 and an ``ErrorBody``
    (app.py's handlers, ``web/input_guard.py``), on any operation, so each documents that."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses.setdefault(
                "400",
                {
                    "description": BAD_REQUEST,
                    "content": {"application/json": {"schema": _ERROR_REF}},
                },
            )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.setdefault("ErrorBody", ErrorBody.model_json_schema())
    return schema
