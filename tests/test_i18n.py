"""Translations are data, complete in every language, and one language rule serves all.

- ``frontend/i18n/<code>.json``: one catalogue per interface language, with the same keys, no empty
  text, the same ``{placeholders}``.
- Every key a page or a module uses is in the catalogues: keys written in ``t(...)`` calls, in
  ``data-i18n``/``data-i18n-attr``/``data-title-key`` attributes, passed on as string literals
  (``gate("gate.sign_in")``), or built at run time from a prefix listed in ``DYNAMIC``.
- ``server/core/languages.py`` and ``frontend/js/languages.js`` pick the same language for the
  same inputs (the JS run in Node.js; the browser tests run it in Chromium too).
- Every interface language has its mail labels and layouts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from server.adapters.db.models import LANGUAGES
from server.core.languages import FALLBACK, INTERFACE_LANGUAGES, LANGUAGES_FILE, pick_language, pick_text
from server.protocol import ERROR_CODES, json_schema
from server.services.registrations import RegistrationIn
from server.services.reminders import mail_language
from server.services.reports.model import pick_title
from tests.fixtures.node import node

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
CATALOGUES = FRONTEND / "i18n"
MAIL_TEMPLATES = ROOT / "workers" / "templates"

# keys built at run time from a prefix and a value: every prefix the code builds keys from must be
# here, with all its values (a prefix found in the code and missing here fails the test)
DYNAMIC: dict[str, list[str]] = {
    "category.": ["member_state", "un_system", "intergovernmental", "civil_society", "academia", "media", "other"],
    "conn.": ["idle", "connecting", "live", "reconnecting", "offline", "closed"],
    "conn.closed.": ["signed_out", "forbidden", "not_found"],
    "status.": ["scheduled", "live", "paused", "ended"],
    "kind.": ["opening", "panel", "closing"],
    "lang.": list(INTERFACE_LANGUAGES),
    "inbox.": ["pending", "approved", "highlighted", "answered", "archived", "dismissed"],
    "inbox.empty_": ["pending", "approved", "highlighted", "answered", "archived", "dismissed"],
    "st.status_": ["pending", "approved", "rejected"],
    "reminder.audience.": ["attendees", "speakers"],
    "err.": sorted(ERROR_CODES),
}
# prefixes whose keys may be missing: the code shows something else then (the server's detail for
# an unknown problem code, the channel's own name for a stream channel without a label)
OPTIONAL_PREFIXES = {"problem.", "stream.channel."}

KEY = r"[a-z_]+(?:\.[a-z_0-9]+)+"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogue(code: str) -> dict[str, str]:
    data = json.loads((CATALOGUES / f"{code}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict), code
    return data


@pytest.fixture(scope="module")
def catalogues() -> dict[str, dict[str, str]]:
    return {code: catalogue(code) for code in INTERFACE_LANGUAGES}


# --- the catalogues ---------------------------------------------------------------------------------


def test_there_is_one_catalogue_per_interface_language_and_no_other() -> None:
    files = {path.stem for path in CATALOGUES.glob("*.json")} - {LANGUAGES_FILE.stem}
    assert files == set(INTERFACE_LANGUAGES)
    assert set(FALLBACK) >= set(INTERFACE_LANGUAGES), "the fallback order ranks every interface language"


def catalogue_problems(catalogues: dict[str, dict[str, str]]) -> list[str]:
    first, *others = INTERFACE_LANGUAGES
    reference = catalogues[first]
    problems = []
    for code in others:
        keys = set(catalogues[code])
        problems += [f"{code} lacks {key}" for key in sorted(set(reference) - keys)]
        problems += [f"{code} has {key}, {first} does not" for key in sorted(keys - set(reference))]
    for code, strings in catalogues.items():
        for key, text in strings.items():
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{code} {key} is empty")
            elif key in reference and set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(reference[key])):
                problems.append(f"{code} {key} has other placeholders than {first}")
    return problems


def test_every_catalogue_has_every_key_with_a_text_and_the_same_placeholders(catalogues: Any) -> None:
    assert not catalogue_problems(catalogues)


def test_a_missing_key_an_empty_text_or_another_placeholder_is_found(catalogues: Any) -> None:
    broken = {code: dict(strings) for code, strings in catalogues.items()}
    del broken["fr"]["signout"]
    broken["es"]["skip"] = " "
    broken["es"]["signed_in_as"] = "Conectado como {nombre}"
    assert catalogue_problems(broken) == [
        "fr lacks signout",
        "es skip is empty",
        "es signed_in_as has other placeholders than en",
    ]


# --- the keys the frontend uses ---------------------------------------------------------------------


def call_arguments(text: str, name: str = "t") -> Iterator[str]:
    """The first argument of each ``name(...)`` call: up to the comma or parenthesis that ends it."""
    for match in re.finditer(rf"(?<![\w.$]){name}\(", text):
        depth, quote, i = 0, "", match.end()
        while i < len(text):
            c = text[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in "\"'`":
                quote = c
            elif c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif c == "," and depth == 0:
                break
            i += 1
        yield text[match.end() : i]


def used_keys(sources: dict[str, str], namespaces: set[str], protocol_names: set[str]) -> tuple[set[str], set[str]]:
    """The keys ``sources`` (name → text) use, and the prefixes of keys they build at run time."""
    used: set[str] = set()
    prefixes: set[str] = set()
    for name, text in sources.items():
        if name.endswith(".html"):
            used |= set(re.findall(r'data-i18n="([^"]+)"', text))
            used |= set(re.findall(r'data-title-key="([^"]+)"', text))
            for pairs in re.findall(r'data-i18n-attr="([^"]+)"', text):
                used |= {pair.split(":")[1].strip() for pair in pairs.split(";") if ":" in pair}
            continue
        for argument in call_arguments(text):
            used |= set(re.findall(rf'"({KEY})"', argument))  # t("a.b"), t(x ? "a.b" : "a.c")
        # keys handed on before reaching t(): gate("gate.sign_in"), ["org.day", ...].map(t): a string
        # literal in a namespace of the catalogues, unless it names a protocol command or event
        for literal in re.findall(rf'"({KEY})"', text):
            if literal.split(".")[0] in namespaces and literal not in protocol_names:
                used.add(literal)
        for prefix in re.findall(r"`([a-z_]+(?:\.[a-z_0-9]*)*[._])\$\{", text):
            if prefix.split(".")[0] in namespaces:
                prefixes.add(prefix)
    return used, prefixes


def protocol_names() -> set[str]:
    """Every ``type`` the protocol defines (commands, events, frames): strings that are not keys."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("const"), str):
                names.add(node["const"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json_schema())
    return names


def frontend_sources() -> dict[str, str]:
    paths = [*FRONTEND.rglob("*.js"), *FRONTEND.rglob("*.html")]
    return {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8") for path in paths}


def missing_keys(sources: dict[str, str], keys: set[str]) -> list[str]:
    namespaces = {key.split(".")[0] for key in keys}
    used, prefixes = used_keys(sources, namespaces, protocol_names())
    unlisted = sorted(p for p in prefixes if p not in DYNAMIC and p not in OPTIONAL_PREFIXES)
    for prefix, values in DYNAMIC.items():
        used |= {prefix + value for value in values}
    return [f"built from {p!r}: list its values in DYNAMIC" for p in unlisted] + sorted(used - keys)


def test_every_key_the_pages_and_modules_use_is_in_the_catalogues(catalogues: Any) -> None:
    sources = frontend_sources()
    assert any(name.endswith("i18n.js") for name in sources) and any(name.endswith(".html") for name in sources)
    assert not missing_keys(sources, set(catalogues["en"]))


def test_a_key_missing_from_the_catalogues_is_found(catalogues: Any) -> None:
    keys = set(catalogues["en"])
    module = 'export const x = () => [t("org.nope"), t(ok ? "gate.yes" : "gate.no"), gate("gate.not_here")];\n'
    html = '<h1 data-i18n="home.nope">x</h1><title data-title-key="page.nope"></title>'
    built = "export const y = (k) => t(`org.built.${k}`);\n"
    found = missing_keys({"frontend/js/x.js": module, "frontend/x.html": html, "frontend/js/y.js": built}, keys)
    assert found == [
        "built from 'org.built.': list its values in DYNAMIC",
        "gate.no",
        "gate.not_here",
        "gate.yes",
        "home.nope",
        "org.nope",
        "page.nope",
    ]
    # a protocol name is not a key
    assert missing_keys({"frontend/js/z.js": 'send("floor.grant", {})'}, keys) == []


# --- one language rule, on the server and in the browser --------------------------------------------

CASES: list[tuple[list[str | None], list[str]]] = [
    (["fr"], ["fr", "en", "es"]),
    (["es"], ["fr", "en"]),
    (["es"], ["fr"]),
    (["de"], ["es", "fr"]),
    (["de"], ["es", "ar"]),
    (["fr-CA"], ["en", "fr"]),
    (["FR"], ["en", "fr"]),
    (["pt-BR"], ["pt", "pt-BR", "en"]),
    (["pt-br"], ["pt-BR", "en"]),
    (["pt"], ["pt-BR", "en"]),
    (["de-AT", "de", "es-MX"], ["fr", "es"]),
    ([None, "", "fr"], ["en", "fr"]),
    ([], ["fr", "es"]),
    ([], ["ar", "zh"]),
    (["en"], []),
    (["en-US", "en"], list(INTERFACE_LANGUAGES)),
    (["ja"], list(INTERFACE_LANGUAGES)),
]
TEXT_CASES: list[tuple[dict[str, str], list[str]]] = [
    ({"fr": "Ouverture", "en": "Opening"}, ["es"]),
    ({"fr": "Ouverture", "en": ""}, ["en"]),
    ({"ar": "افتتاح", "es": "Apertura"}, ["en"]),
    ({"ar": "افتتاح"}, ["en"]),
    ({}, ["fr"]),
]


PICK = f"""
import {{ pickLanguage, pickText, FALLBACK }} from {json.dumps((FRONTEND / "js" / "languages.js").as_uri())};
let input = "";
for await (const chunk of process.stdin) input += chunk;
const {{ cases, texts }} = JSON.parse(input);
process.stdout.write(JSON.stringify({{
  fallback: FALLBACK,
  languages: cases.map(([wanted, available]) => pickLanguage(wanted, available)),
  texts: texts.map(([t, wanted]) => pickText(t, wanted)),
}}));
"""


def test_the_server_and_the_browser_pick_the_same_language() -> None:
    got = node(PICK, {"cases": CASES, "texts": TEXT_CASES})
    assert got["fallback"] == list(FALLBACK)
    assert got["languages"] == [pick_language(wanted, available) for wanted, available in CASES]
    assert [tuple(pair) for pair in got["texts"]] == [pick_text(texts, wanted) for texts, wanted in TEXT_CASES]


def test_the_rule() -> None:
    assert FALLBACK[:2] == ("en", "fr")  # the cases below spell out this order
    assert pick_language(["es"], ["fr", "en"]) == "en"
    assert pick_language(["de"], ["es", "fr"]) == "fr"
    assert pick_language(["fr-CA"], ["en", "fr"]) == "fr"
    assert pick_language(["pt-br"], ["pt-BR"]) == "pt-BR"
    assert pick_language(["de"], ["ar", "zh"]) == "ar"
    assert pick_language("es", ["fr", "es"]) == "es", "one language, not its letters"
    assert pick_language(["fr"], []) is None
    assert pick_text({"fr": "Ouverture", "en": ""}, ["en"]) == ("Ouverture", "fr")


def test_mails_and_reports_follow_the_rule() -> None:
    assert mail_language("es", ["fr", "en"]) == "es"
    assert mail_language("fr-CA", ["en"]) == "fr"
    assert mail_language(None, ["fr", "en"]) == "fr", "no language of their own: the event's first"
    assert mail_language("de", ["ar", "fr"]) == "en", "neither: the fallback order"
    assert pick_title({"fr": "Journée", "en": "Day"}) == "Day"
    assert pick_title({"fr": "Journée", "es": "Jornada"}) == "Journée"
    assert pick_title({"ar": "يوم", "es": "Jornada"}) == "Jornada"
    assert pick_title("Plain") == "Plain" and pick_title(None) == ""


def test_registrations_accept_exactly_the_interface_languages() -> None:
    assert set(LANGUAGES) == set(INTERFACE_LANGUAGES)
    assert set(get_args(RegistrationIn.model_fields["language"].annotation)) == set(INTERFACE_LANGUAGES)


def test_every_interface_language_has_its_mail_labels_and_layouts() -> None:
    labels = yaml.safe_load((MAIL_TEMPLATES / "labels.yaml").read_text(encoding="utf-8"))
    for code in INTERFACE_LANGUAGES:
        assert code in labels, code
        assert set(labels[code]) == set(labels[INTERFACE_LANGUAGES[0]]), code
        for ext in ("txt", "html"):
            assert (MAIL_TEMPLATES / f"reminder.{code}.{ext}").is_file(), (code, ext)
