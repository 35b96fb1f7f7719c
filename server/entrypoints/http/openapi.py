"""Typed route declarations: each HTTP route is one ``RouteSpec`` that builds both the Starlette
``Route`` and its OpenAPI operation, so the served routes and the document cannot drift apart.

A route module declares its routes with ``Routes.route`` (a decorator on the endpoint)::

    api = Routes()

    @api.route("POST", "/api/events/{slug}/registrations", summary="Register for an event", tags=["attendees"],
               path=[SLUG], body=RegistrationIn, responses={201: Reply("The registration.", RegistrationOut)},
               problems={404: "No such event."})
    async def register(request): ...

    routes = api.routes

Checked when the module is imported (``SpecError``): every ``{name}`` of the path is declared in ``path``
with the type of its convertor, and nothing else is; a status is either a reply or a problem. Checked
when the application is built (``document``): every ``Route`` of the app carries a spec.

Schemas come from the pydantic models themselves (``model_json_schema``, references under
``#/components/schemas``): request bodies in validation mode, replies in serialization mode. Every
error is ``application/problem+json`` with the shared ``Problem`` schema; a route with a JSON body
documents the problems ``auth.json_body`` answers (400, 413, 415, 422) without saying so itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from server.core.model.base import MAX_SAFE_INTEGER
from server.entrypoints.http.problems import TITLES

Endpoint = Callable[[Request], Awaitable[Response]]
REF = "#/components/schemas/{model}"
PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
# What auth.json_body answers besides the model's own validation (422).
BODY_PROBLEMS = {
    400: "Malformed JSON.",
    413: "Body larger than 64 KiB.",
    415: "The body is not `application/json`.",
    422: "Invalid input; `errors` lists the fields.",
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CROSS_SITE = "A request from another site: `Origin` (or `Referer`) is not an allowed origin (`cross_site_request`)."
CONTROL_CHARACTERS = "A path with control characters (`not_found`)."
SCALARS: dict[type, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    bool: {"type": "boolean"},
    date: {"type": "string", "format": "date"},
}


class SpecError(ValueError):
    """A route declaration that does not match its path, or an app route without a declaration."""


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the field, `(body)` for the whole body.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as ``server/entrypoints/http/problems.py`` writes them."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="Always `about:blank`: `code` says which problem it is.")
    title: str
    status: int
    detail: str
    code: str | None = Field(None, description="A stable machine-readable code, e.g. `event_not_found`.")
    errors: list[FieldError] | None = Field(None, description="Per field, on 422.")


class Out(BaseModel):
    """A response body: fields with a default are always present, so the schema requires them too."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


@dataclass(frozen=True)
class Param:
    """A path or query parameter."""

    name: str
    description: str
    type: type = str
    required: bool = True
    example: Any = None
    schema_extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. bounds

    def schema(self) -> dict[str, Any]:
        return {**SCALARS[self.type], **self.schema_extra}


# A row id, as the ``{…:id}`` convertor accepts it (server/entrypoints/http/convertors.py).
ID_RANGE = {"minimum": 1, "maximum": MAX_SAFE_INTEGER}
SLUG = Param("slug", "The event's slug.", example="idm-2022-1")
ORGANISER_PROBLEMS = {401: "Not signed in.", 403: "Not an organiser of this event.", 404: "No such event."}
"""What a route only an organiser of the event may use can answer besides its own replies."""


@dataclass(frozen=True)
class Reply:
    """A successful response: its description and its body (a model, or a media type with no model)."""

    description: str
    model: type[BaseModel] | None = None
    media_types: tuple[str, ...] = (JSON,)
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> description


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    endpoint: Endpoint
    summary: str
    tags: tuple[str, ...]
    description: str = ""
    path_params: tuple[Param, ...] = ()
    query: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    responses: Mapping[int, Reply] = field(default_factory=dict)
    problems: Mapping[int, str] = field(default_factory=dict)
    example: Mapping[str, Any] | None = None  # of the body, validated against ``body``
    upload: tuple[str, ...] = ()  # media types of a file sent as the whole body (not JSON, not multipart)

    def __post_init__(self) -> None:
        where = f"{self.method} {self.path}"
        convertors = Route(self.path, self.endpoint).param_convertors
        declared = {p.name: p for p in self.path_params}
        if set(convertors) != set(declared):
            raise SpecError(
                f"{where}: the path has parameters {sorted(convertors)}, the spec declares {sorted(declared)}"
            )
        for name, convertor in convertors.items():
            wanted = type(convertor.convert("1"))  # int for {…:int} and {…:id}, str for {…} and {…:path}
            if declared[name].type is not wanted:
                raise SpecError(f"{where}: path parameter {name} is {wanted.__name__} in the path")
        if not self.responses:
            raise SpecError(f"{where}: no successful response declared")
        both = set(self.responses) & set(self.problems)
        if both:
            raise SpecError(f"{where}: statuses {sorted(both)} are both a reply and a problem")
        if any(status >= 400 for status in self.responses) or any(status < 400 for status in self.problems):
            raise SpecError(f"{where}: replies are below 400, problems 400 and above")
        if len({p.name for p in self.query}) != len(self.query):
            raise SpecError(f"{where}: a query parameter is declared twice")
        if self.upload and self.body is not None:
            raise SpecError(f"{where}: a body is either a JSON model or an uploaded file")
        if self.example is not None:
            if self.body is None:
                raise SpecError(f"{where}: an example without a body")
            self.body.model_validate(self.example)  # a stale example fails at import

    def all_problems(self) -> dict[int, str]:
        found = dict(BODY_PROBLEMS) if self.body is not None else {}
        found.update(self.problems)
        if any(p.type is str for p in self.path_params):  # security.NoControlCharactersInPaths
            found[404] = " ".join(filter(None, [found.get(404), CONTROL_CHARACTERS]))
        if self.method not in SAFE_METHODS:  # security.SameOriginWrites stands before every route
            found[403] = " ".join(filter(None, [found.get(403), CROSS_SITE]))
        return dict(sorted(found.items()))

    def route(self) -> ApiRoute:
        return ApiRoute(self)


class ApiRoute(Route):
    """A Starlette route that keeps the spec it was built from."""

    def __init__(self, spec: RouteSpec) -> None:
        super().__init__(spec.path, spec.endpoint, methods=[spec.method], name=spec.endpoint.__name__)
        self.spec = spec


class Routes:
    """The routes of one module, in declaration order."""

    def __init__(self) -> None:
        self.routes: list[BaseRoute] = []

    def add(self, spec: RouteSpec) -> None:
        self.routes.append(spec.route())

    def route(
        self,
        method: str,
        url: str,
        /,
        *,
        summary: str,
        tags: Iterable[str],
        description: str = "",
        path: Iterable[Param] = (),
        query: Iterable[Param] = (),
        body: type[BaseModel] | None = None,
        responses: Mapping[int, Reply],
        problems: Mapping[int, str] | None = None,
        example: Mapping[str, Any] | None = None,
        upload: Iterable[str] = (),
    ) -> Callable[[Endpoint], Endpoint]:
        """Declare the decorated endpoint as ``method url``; ``path`` lists the path's parameters."""

        def declare(endpoint: Endpoint) -> Endpoint:
            self.add(
                RouteSpec(
                    method=method,
                    path=url,
                    endpoint=endpoint,
                    summary=summary,
                    tags=tuple(tags),
                    description=description,
                    path_params=tuple(path),
                    query=tuple(query),
                    body=body,
                    responses=dict(responses),
                    problems=dict(problems or {}),
                    example=example,
                    upload=tuple(upload),
                )
            )
            return endpoint

        return declare


def _content(media_types: Iterable[str], schema: dict[str, Any]) -> dict[str, Any]:
    return {media_type: {"schema": schema} for media_type in media_types}


def _parameter(param: Param, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": param.name,
        "in": where,
        "required": True if where == "path" else param.required,
        "description": param.description,
        "schema": param.schema(),
    }
    if param.example is not None:
        out["example"] = param.example
    return out


def _operation(spec: RouteSpec, refs: Mapping[tuple[type[BaseModel], str], dict[str, Any]]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": spec.endpoint.__name__,
        "summary": spec.summary,
        "tags": list(spec.tags),
    }
    if spec.description:
        op["description"] = spec.description
    params = [_parameter(p, "path") for p in spec.path_params] + [_parameter(p, "query") for p in spec.query]
    if params:
        op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {"required": True, "content": _content([JSON], refs[(spec.body, "validation")])}
        if spec.example is not None:
            op["requestBody"]["content"][JSON]["example"] = dict(spec.example)
    if spec.upload:
        op["requestBody"] = {"required": True, "content": _content(spec.upload, {"type": "string", "format": "binary"})}
    responses: dict[str, Any] = {}
    for status, reply in sorted(spec.responses.items()):
        out: dict[str, Any] = {"description": reply.description}
        if reply.model is not None:
            out["content"] = _content(reply.media_types, refs[(reply.model, "serialization")])
        elif status != 204:
            out["content"] = _content(reply.media_types, {"type": "string"})
        if reply.headers:
            out["headers"] = {
                name: {"description": text, "schema": {"type": "string"}} for name, text in reply.headers.items()
            }
        responses[str(status)] = out
    for status, text in spec.all_problems().items():
        responses[str(status)] = {
            "description": f"{TITLES.get(status, 'Error')}: {text}",
            "content": _content([PROBLEM_JSON], refs[(Problem, "serialization")]),
        }
    op["responses"] = responses
    return op


def specs_of(routes: Iterable[BaseRoute]) -> list[RouteSpec]:
    """The spec of every HTTP route; ``SpecError`` for a plain ``Route`` (it would be undocumented)."""
    found: list[RouteSpec] = []
    for route in routes:
        if isinstance(route, ApiRoute):
            found.append(route.spec)
        elif isinstance(route, Route):
            raise SpecError(f"{route.path} is a plain Route: declare it with openapi.Routes")
        elif not isinstance(route, Mount | WebSocketRoute):
            raise SpecError(f"unexpected route {route!r}")
    return found


def document(routes: Iterable[BaseRoute], info: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (the websocket and the static files are not HTTP operations)."""
    specs = specs_of(routes)
    models: dict[tuple[type[BaseModel], str], None] = {(Problem, "serialization"): None}
    for spec in specs:
        if spec.body is not None:
            models[(spec.body, "validation")] = None
        for reply in spec.responses.values():
            if reply.model is not None:
                models[(reply.model, "serialization")] = None
    keyed, schemas = models_json_schema(list(models), ref_template=REF)  # type: ignore[arg-type]
    refs: dict[tuple[type[BaseModel], str], dict[str, Any]] = dict(keyed)  # type: ignore[arg-type]
    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for spec in specs:
        path = Route(spec.path, spec.endpoint).path_format  # {id:int} -> {id}
        operation = _operation(spec, refs)
        if operation["operationId"] in seen:
            raise SpecError(f"two operations are named {operation['operationId']}")
        seen.add(operation["operationId"])
        paths.setdefault(path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": dict(info),
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {})},
    }
