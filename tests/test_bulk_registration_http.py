"""Bulk registration over HTTP against a real server: preview then commit of the same file, and every
hostile upload (too large, too many rows, not a spreadsheet, a zip bomb, the wrong person) answered with
a problem document, never a 500, with nothing saved."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures.live import register, staff_token
from tests.fixtures.parley import Parley, ServerProcess, migrated_sqlite

EVENT = "/api/events/idm-2022-1"
PREVIEW = f"{EVENT}/registrations/import/preview"
COMMIT = f"{EVENT}/registrations/import"
CSV = {"content-type": "text/csv"}
MAX_BYTES = 8192
MAX_ROWS = 20


@dataclass
class Site:
    server: ServerProcess
    organiser: str
    moderator: str
    attendee: str

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir: Path = tmp_path_factory.mktemp("bulk-http") / "data"
    limits = {"PARLEY_IMPORT_MAX_BYTES": str(MAX_BYTES), "PARLEY_IMPORT_MAX_ROWS": str(MAX_ROWS)}
    server = ServerProcess(Parley("sqlite", data_dir, migrated_sqlite(data_dir), extra_env=limits))
    try:
        yield Site(server, staff_token(server, "organiser"), staff_token(server, "moderator"), register(server, "Al"))
    finally:
        server.stop()


def is_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert (body["status"], body["code"]) == (status, code), body
    return body


def emails(site: Site) -> list[str]:
    with site.client(site.organiser) as organiser:
        return [r["email"] for r in organiser.get(f"{EVENT}/registrations").json()["registrations"]]


def test_a_preview_then_the_commit_of_the_same_file(site: Site) -> None:
    data = (
        "\ufeffNombre;Correo electrónico;Organización;Categoría;País;Idioma\r\n"
        "Rosa Díaz;rosa@example.org;Cancillería;Estado miembro;Chile;español\r\n"
        "Sin Correo;;;Medios;;\r\n"
        "Rosa Otra;ROSA@example.org;;academia;;fr\r\n"
        "Tom Hill;tom@example.org;;media;;en\r\n"
    ).encode()
    before = emails(site)
    with site.client(site.organiser) as organiser:
        preview = organiser.post(PREVIEW, content=data, headers=CSV)
        assert preview.status_code == 200, preview.text
        body = preview.json()
        assert (body["format"], body["encoding"], body["delimiter"], body["header"]) == ("csv", "utf-8-sig", ";", True)
        assert (body["total"], body["valid"], body["invalid"]) == (4, 2, 2)
        lines = {row["line"]: [(p["column"], p["code"]) for p in row["problems"]] for row in body["rows"]}
        assert lines == {2: [], 3: [("B", "missing_email")], 4: [("B", "duplicate_in_file")], 5: []}
        assert body["rows"][0]["registration"]["category"] == "member_state"
        assert body["rows"][1]["registration"] is None and body["rows"][1]["values"]["name"] == "Sin Correo"
        assert emails(site) == before, "a preview saves nothing"

        committed = organiser.post(COMMIT, params={"sha256": body["sha256"]}, content=data, headers=CSV)
        assert committed.status_code == 200, committed.text
        result = committed.json()
        assert [(c["line"], c["email"]) for c in result["created"]] == [(2, "rosa@example.org"), (5, "tom@example.org")]
        assert [s["line"] for s in result["skipped"]] == [3, 4]
        assert emails(site) == [*before, "rosa@example.org", "tom@example.org"]

        # previewed again, the same file now says who is registered already
        again = organiser.post(PREVIEW, content=data, headers=CSV).json()
        assert [p["code"] for row in again["rows"] for p in row["problems"]].count("already_registered") == 2


def test_a_commit_of_another_file_than_previewed_saves_nothing(site: Site) -> None:
    data = b"name,email,category\nUma,uma@example.org,media\n"
    with site.client(site.organiser) as organiser:
        sha = organiser.post(PREVIEW, content=data, headers=CSV).json()["sha256"]
        edited = data.replace(b"Uma,", b"Uma B,")
        is_problem(organiser.post(COMMIT, params={"sha256": sha}, content=edited, headers=CSV), 409, "file_changed")
        is_problem(organiser.post(COMMIT, params={"sha256": "abc"}, content=data, headers=CSV), 422, "invalid")
    assert "uma@example.org" not in emails(site)


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", bytes(4 * 1024 * 1024))
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE = [
    ("too large", b"name,email,category\n" + b"x" * MAX_BYTES, "text/csv", 413, "too_large"),
    ("JSON", b'{"name": "x"}', "application/json", 415, "unsupported_media_type"),
    ("no content type", b"name,email,category\n", "", 415, "unsupported_media_type"),
    (".xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "application/vnd.ms-excel", 415, "unsupported_file"),
    ("zip bomb", zip_bomb(), XLSX, 422, "unreadable_file"),
    ("binary", bytes(range(256)) * 4, "application/octet-stream", 422, "unreadable_file"),
    ("empty", b"", "text/csv", 422, "empty_file"),
    (
        "too many rows",
        b"name,email,category\n" + b"".join(b"P,p%d@example.org,media\n" % i for i in range(MAX_ROWS + 1)),
        "text/csv",
        422,
        "too_many_rows",
    ),
    ("no email column", b"name,category\nAna,media\n", "text/csv", 422, "missing_columns"),
    ("a field twice", b"email,courriel,name,category\n", "text/csv", 422, "duplicate_column"),
]


@pytest.mark.parametrize(("what", "data", "media_type", "status", "code"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_upload_is_a_problem_and_saves_nothing(
    site: Site, what: str, data: bytes, media_type: str, status: int, code: str
) -> None:
    before = emails(site)
    headers = {"content-type": media_type} if media_type else {}
    with site.client(site.organiser) as organiser:
        for path in (PREVIEW, COMMIT):
            is_problem(organiser.post(path, content=data, headers=headers), status, code)
    assert emails(site) == before
    assert httpx.get(f"{site.url}/healthz").status_code == 200


def test_a_body_larger_than_the_limit_without_a_length_is_cut_off(site: Site) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"name,email,category\n"
        for _ in range(64):
            yield b"x" * 1024

    with site.client(site.organiser) as organiser:
        is_problem(organiser.post(PREVIEW, content=chunks(), headers=CSV), 413, "too_large")


def test_only_the_events_organisers_may_import(site: Site) -> None:
    data = b"name,email,category\nVic,vic@example.org,media\n"
    for token, status, code in (
        (None, 401, "not_signed_in"),
        (site.attendee, 403, "forbidden"),
        (site.moderator, 403, "forbidden"),
    ):
        with site.client(token) as client:
            for path in (PREVIEW, COMMIT):
                is_problem(client.post(path, content=data, headers=CSV), status, code)
    with site.client(site.organiser) as organiser:
        for path in ("/api/events/nowhere/registrations/import/preview", "/api/events/nowhere/registrations/import"):
            is_problem(organiser.post(path, content=data, headers=CSV), 404, "event_not_found")
        # a page of another site cannot post a file with the organiser's cookie
        crossed = organiser.post(COMMIT, content=data, headers={**CSV, "Origin": "https://evil.example"})
        is_problem(crossed, 403, "cross_site_request")
    assert "vic@example.org" not in emails(site)
