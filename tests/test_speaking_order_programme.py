"""The order of categories in a programme file: read when given, refused with the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.programme import ProgrammeError, load_programme, parse_programme
from tests.test_programme_file import VALID, edited

LANGUAGES = "languages: [fr, en]\n"


def with_order(lines: str) -> str:
    return edited(LANGUAGES, LANGUAGES + lines)


def test_a_programme_without_an_order_leaves_it_to_the_default_or_the_organiser() -> None:
    assert parse_programme(VALID).speaking_order is None


def test_the_order_of_categories_is_read_in_its_order() -> None:
    spec = parse_programme(with_order("speaking_order: [member_state, un_system, civil_society]\n"))
    assert spec.speaking_order == ("member_state", "un_system", "civil_society")


@pytest.mark.parametrize(
    ("lines", "line", "message"),
    [
        pytest.param(
            "speaking_order:\n  - member_state\n  - states\n",
            7,
            "speaking_order: unknown category 'states' (one of: member_state, un_system, intergovernmental, "
            "civil_society, academia, media, other)",
            id="unknown",
        ),
        pytest.param(
            "speaking_order:\n  - un_system\n  - member_state\n  - un_system\n",
            8,
            "speaking_order: category 'un_system' is listed twice",
            id="twice",
        ),
        pytest.param(
            "speaking_order: []\n",
            5,
            "speaking_order is empty: list categories, or leave it out for the default order",
            id="empty",
        ),  # fmt: skip
        pytest.param(
            "speaking_order: member_state\n", 5, 'speaking_order must be a list, got "member_state"', id="not-a-list"
        ),
    ],
)
def test_a_bad_order_is_refused_with_the_file_and_line(tmp_path: Path, lines: str, line: int, message: str) -> None:
    path = tmp_path / "programme.yaml"
    path.write_text(with_order(lines), encoding="utf-8")
    with pytest.raises(ProgrammeError) as caught:
        load_programme(path)
    assert (caught.value.line, caught.value.message) == (line, message)
    assert str(caught.value).startswith(f"{path}:{line}: speaking_order")
