"""Organiser routes for the speaking order: which categories get the floor first when the moderator
orders the list of speakers by category."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.core.model import Category
from server.core.speaking_order import CATEGORIES, DEFAULT_CATEGORY_ORDER, BadCategoryOrder
from server.entrypoints.http.auth import event_access, json_body
from server.entrypoints.http.openapi import ORGANISER_PROBLEMS, SLUG, Out, Reply, Routes
from server.entrypoints.http.problems import Problem
from server.services import speaking_order
from server.services.access import Capability

api = Routes()


class SpeakingOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[str] | None = Field(
        max_length=len(CATEGORIES),
        description="Categories in the order they get the floor; those not listed come after, alike. "
        "Null: the default order.",
    )


class SpeakingOrderOut(Out):
    categories: list[Category] = Field(description="The order in force.")
    default: bool = Field(description="True when the event uses the default order.")
    known: list[Category] = Field(description="Every category an attendee can register with.")


def _reply(categories: tuple[Category, ...], default: bool) -> Response:
    return JSONResponse({"categories": list(categories), "default": default, "known": list(CATEGORIES)})


@api.route(
    "GET",
    "/api/events/{slug}/speaking-order",
    summary="The order of categories for the list of speakers (organisers)",
    description="When the moderator orders the list of speakers by category, requests go in this order of "
    f"categories, then by request time. Default: {', '.join(DEFAULT_CATEGORY_ORDER)}, then the others.",
    tags=["organisers"],
    path=[SLUG],
    responses={200: Reply("The order in force.", SpeakingOrderOut)},
    problems=ORGANISER_PROBLEMS,
)
async def get_speaking_order(request: Request) -> Response:
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.MANAGE_SPEAKING_ORDER)).event
        return _reply(speaking_order.category_order(event), event.speaking_order is None)


@api.route(
    "PUT",
    "/api/events/{slug}/speaking-order",
    summary="Change the order of categories for the list of speakers (organisers)",
    description="Takes effect from the next request for the floor or switch of the list's order. A programme "
    "file with a speaking_order replaces it on its next load.",
    tags=["organisers"],
    path=[SLUG],
    body=SpeakingOrderIn,
    example={"categories": ["member_state", "intergovernmental", "un_system", "civil_society"]},
    responses={200: Reply("The order now in force.", SpeakingOrderOut)},
    problems={**ORGANISER_PROBLEMS, 422: "An unknown category, or one listed twice."},
)
async def set_speaking_order(request: Request) -> Response:
    async with request.state.sessions() as session, session.begin():
        event = (await event_access(request, session, Capability.MANAGE_SPEAKING_ORDER)).event
        body = await json_body(request, SpeakingOrderIn)
        try:
            categories = speaking_order.set_category_order(event, body.categories)
        except BadCategoryOrder as exc:
            raise Problem(422, str(exc), code="invalid") from None
        return _reply(categories, body.categories is None)


routes = api.routes
