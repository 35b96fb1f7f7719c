"""The OpenAPI document: valid, complete (every served route, every path parameter), and true to what a
real server answers (a bounded schemathesis run, signed in as an organiser)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from openapi_spec_validator import validate
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.routing import Route

from server.adapters.db.base import utcnow
from server.adapters.db.engine import make_sync_engine
from server.adapters.db.models import Event
from server.app import API_INFO, create_app
from server.entrypoints.http import openapi
from server.entrypoints.http.openapi import Param, Reply, RouteSpec, SpecError
from server.services import reports
from tests.fixtures.live import staff_token
from tests.fixtures.parley import STALE_AFTER, Parley, ServerProcess

SLUG = "idm-2022-1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Bounded: few cases per operation, one seed, and a hard stop well inside the suite's patience.
MAX_EXAMPLES = 8
SEED = 20220228
TIME_CAP_S = 90
# Signing out would end the session every later case uses; tests/test_auth_http.py covers it.
EXCLUDED_OPERATIONS = ("logout",)
PROTECTED_REACHED = (
    ("GET", "/api/me"),
    ("GET", f"/api/events/{SLUG}/registrations"),
    ("GET", f"/api/events/{SLUG}/registrations.csv"),
    ("GET", f"/api/events/{SLUG}/reminders"),
    ("GET", f"/api/events/{SLUG}/reports"),
    ("GET", f"/api/events/{SLUG}/reports/2022-02-28.xlsx"),
    ("POST", f"/api/events/{SLUG}/registrations"),
    ("POST", f"/api/events/{SLUG}/reports"),
    ("PUT", f"/api/events/{SLUG}/reminders/schedule"),
)
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
)


@pytest.fixture()
def document(sqlite_parley: Parley) -> dict[str, Any]:
    return dict(create_app(sqlite_parley.settings()).state.openapi)


def http_routes(parley: Parley) -> list[Route]:
    return [r for r in create_app(parley.settings()).routes if isinstance(r, Route)]


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_served_route_has_an_operation_with_its_path_parameters(
    sqlite_parley: Parley, document: dict[str, Any]
) -> None:
    served: set[tuple[str, str]] = set()
    for route in http_routes(sqlite_parley):
        for method in (route.methods or set()) - {"HEAD"}:
            path = route.path_format
            served.add((method.lower(), path))
            operation = document["paths"][path][method.lower()]
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path, declared)
            ints = {name for name, conv in route.param_convertors.items() if isinstance(conv.convert("1"), int)}
            for param in operation.get("parameters", []):
                if param["in"] == "path":
                    assert param["required"] is True
                    assert param["schema"]["type"] == ("integer" if param["name"] in ints else "string")
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert documented == served


def test_the_pages_and_the_reported_garbled_descriptions_are_whole(document: dict[str, Any]) -> None:
    """Formerly: no ``slug`` on the pages, YAML descriptions split on commas and colons."""
    paths = document["paths"]
    for page in ("/events/{slug}", "/moderate/{slug}", "/organise/{slug}"):
        assert [p["name"] for p in paths[page]["get"]["parameters"]] == ["slug"]
    q = next(p for p in paths["/api/events/{slug}/registrations"]["get"]["parameters"] if p["name"] == "q")
    assert q["description"] == "Search in name, email, organisation and country."
    assert paths["/api/auth/link"]["post"]["responses"]["401"]["description"].endswith("Unknown, used or expired link.")
    download = paths["/api/events/{slug}/reports/{file}"]["get"]["responses"]["200"]
    assert download["description"] == "The file: a zip of CSV files, an XLSX workbook or a PDF."
    assert set(download["content"]) == {"application/zip", "application/pdf", XLSX}
    for path, operations in paths.items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                assert isinstance(response["description"], str) and response["description"], (method, path, status)
                if int(status) >= 400:
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)


def test_bodies_and_replies_are_the_models_the_routes_use(document: dict[str, Any]) -> None:
    from server.services.registrations import RegistrationIn

    register = document["paths"]["/api/events/{slug}/registrations"]["post"]
    ref = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["properties"].keys() == RegistrationIn.model_json_schema()["properties"].keys()
    assert set(register["responses"]) >= {"201", "400", "404", "409", "413", "415", "422"}


async def _endpoint(_request: Any) -> Response:
    return Response()


@pytest.mark.parametrize(
    ("path", "params", "error"),
    [
        ("/events/{slug}", (), "the path has parameters ['slug'], the spec declares []"),
        ("/events", (Param("slug", "x"),), "the path has parameters [], the spec declares ['slug']"),
        ("/r/{id:int}", (Param("id", "x"),), "path parameter id is int in the path"),
        ("/r/{id}", (Param("id", "x", type=int),), "path parameter id is str in the path"),
        ("/r/{id:id}", (Param("id", "x"),), "path parameter id is int in the path"),
    ],
)
def test_a_spec_that_does_not_match_its_path_fails_when_declared(
    path: str, params: tuple[Param, ...], error: str
) -> None:
    with pytest.raises(SpecError, match=re.escape(error)):
        RouteSpec("GET", path, _endpoint, "s", ("t",), path_params=params, responses={200: Reply("ok")})


def test_a_route_without_a_spec_stops_the_document() -> None:
    spec = RouteSpec("GET", "/a", _endpoint, "s", ("t",), responses={200: Reply("ok")})
    with pytest.raises(SpecError, match="plain Route"):
        openapi.document([spec.route(), Route("/b", _endpoint)], API_INFO)


def test_an_api_path_no_route_takes_is_a_documented_404_or_a_405_naming_the_methods(sqlite_parley: Parley) -> None:
    """Formerly the static files answered: 405 without ``Allow`` for a POST with a non-integer id."""
    proc = ServerProcess(sqlite_parley)
    try:
        token = staff_token(proc, "organiser")
        headers = {"Authorization": f"Bearer {token}", "Origin": proc.url}
        for path in (f"/api/events/{SLUG}/registrations/abc/link", f"/api/events/{SLUG}/registrations/1,2/revoke"):
            unrouted = httpx.post(proc.url + path, headers=headers)
            assert unrouted.status_code == 404, unrouted.text
            assert unrouted.headers["content-type"] == "application/problem+json"
            assert unrouted.json()["code"] == "no_route"
        wrong_method = httpx.delete(f"{proc.url}/api/events/{SLUG}/reports", headers=headers)
        assert wrong_method.status_code == 405
        assert wrong_method.headers["allow"] == "GET, HEAD, POST"
        assert wrong_method.json()["code"] == "method_not_allowed"
        assert httpx.get(f"{proc.url}/api/nothing-here").json()["code"] == "no_route"
    finally:
        proc.stop()


@pytest.fixture()
def organiser_server(sqlite_parley: Parley) -> Iterator[tuple[ServerProcess, str]]:
    """The embedded mode (SQLite, in-memory bus, SQLite task queue) and a signed-in organiser."""
    proc = ServerProcess(sqlite_parley)
    try:
        token = staff_token(proc, "organiser")
        registered = httpx.post(
            f"{proc.url}/api/events/{SLUG}/registrations",
            json={"name": "Ada Example", "email": "ada@example.org", "category": "academia"},
            headers={"Origin": proc.url},
        )
        assert registered.status_code == 201, registered.text
        # a compiled file, so that the download answers 200 and its media type is checked too
        engine = make_sync_engine(sqlite_parley.settings())
        with Session(engine) as session:
            event_id = session.execute(select(Event.id).where(Event.slug == SLUG)).scalar_one()
        reports.compile_report(
            engine,
            sqlite_parley.data_dir,
            event_id,
            "2022-02-28",
            now=utcnow(),
            formats=("xlsx",),
            stale_after=STALE_AFTER,
        )
        engine.dispose()
        yield proc, token
    finally:
        proc.stop()


def test_a_real_server_keeps_to_its_document(organiser_server: tuple[ServerProcess, str], tmp_path: Path) -> None:
    """Schemathesis against ``parley serve``: no 5xx, no status, content type, header or body the
    document does not describe. Organiser's bearer token and a same-origin ``Origin`` on every request."""
    server, token = organiser_server
    report = tmp_path / "schemathesis.har"
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{server.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--header",
        f"Origin: {server.url}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--no-shrink",
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "10",
        "--no-color",
        "--output-truncate",
        "true",
        "--report",
        "har",
        "--report-har-path",
        str(report),
        *[arg for op in EXCLUDED_OPERATIONS for arg in ("--exclude-operation-id", op)],
    ]
    started = time.monotonic()
    try:
        run = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=TIME_CAP_S,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"},
            cwd=tmp_path,  # its .schemathesis cache stays out of the checkout
        )
    except subprocess.TimeoutExpired as stopped:
        out = stopped.stdout.decode() if isinstance(stopped.stdout, bytes) else stopped.stdout or ""
        pytest.fail(f"schemathesis ran over {TIME_CAP_S}s:\n{out[-5000:]}")
    elapsed = time.monotonic() - started
    assert run.returncode == 0, f"{run.stdout[-20000:]}\n{run.stderr[-5000:]}"
    print(f"schemathesis: {elapsed:.0f}s")
    # The organiser's token reached the protected routes: each answered a success at least once.
    succeeded = {
        (entry["request"]["method"], urlsplit(entry["request"]["url"]).path)
        for entry in json.loads(report.read_text())["log"]["entries"]
        if 200 <= entry["response"]["status"] < 300
    }
    for method, path in PROTECTED_REACHED:
        assert (method, path) in succeeded, (method, path)
