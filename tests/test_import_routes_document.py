"""The bulk registration routes in the OpenAPI document: a file as the body (binary, per media type),
the problems of an upload, and a spec declaring both a JSON body and a file refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from server.app import create_app
from server.entrypoints.http.openapi import Reply, RouteSpec, SpecError
from tests.fixtures.parley import Parley

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_the_import_routes_take_a_file_as_their_body(sqlite_parley: Parley) -> None:
    paths: dict[str, Any] = create_app(sqlite_parley.settings()).state.openapi["paths"]
    preview = paths["/api/events/{slug}/registrations/import/preview"]["post"]
    commit = paths["/api/events/{slug}/registrations/import"]["post"]
    for operation in (preview, commit):
        content = operation["requestBody"]["content"]
        assert set(content) == {"text/csv", XLSX, "application/octet-stream"}
        assert all(media["schema"] == {"type": "string", "format": "binary"} for media in content.values())
        assert {"401", "403", "404", "413", "415", "422"} <= set(operation["responses"])
        assert "400" not in operation["responses"], "no JSON body, so no malformed JSON"
    assert "409" in commit["responses"] and "409" not in preview["responses"]
    assert [p["name"] for p in commit["parameters"] if p["in"] == "query"] == ["sha256"]


async def endpoint(_request: Request) -> Response:
    return Response()


def test_a_route_cannot_take_both_a_json_body_and_a_file() -> None:
    class Body(BaseModel):
        name: str

    with pytest.raises(SpecError, match="either a JSON model or an uploaded file"):
        RouteSpec(
            method="POST", path="/x", endpoint=endpoint, summary="x", tags=("x",), body=Body,
            upload=("text/csv",), responses={200: Reply("ok")},
        )  # fmt: skip
