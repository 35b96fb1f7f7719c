"""Reminder mails: compose (text + HTML + .ics, in fr/en/es) and send (SMTP, or the outbox folder).

Composition is deterministic for one copy of one delivery: Message-ID, Date and MIME boundaries
derive from the delivery, the calendar UID from the person (normalised email) and the morning, so a
copy sent again after a crash is byte-for-byte the same message and mail systems can recognise it,
and every reminder of one morning to one person updates one calendar entry (see docs/workers.md).
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import re
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime, tzinfo
from email.charset import QP, Charset
from email.errors import HeaderParseError
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml

from config.settings import Settings
from server.core.languages import interface_language
from server.services.reminders import DeliveryError, MailSegment, ReminderMail
from server.services.reminders.notices import NoticeMail

log = logging.getLogger("parley.mail")

TEMPLATES = Path(__file__).resolve().parent / "templates"

# quoted-printable rather than base64: an .eml in the outbox stays readable in a text editor
READABLE_UTF8 = Charset("utf-8")
READABLE_UTF8.body_encoding = QP


@cache
def labels(language: str) -> dict[str, Any]:
    data: dict[str, dict[str, Any]] = yaml.safe_load((TEMPLATES / "labels.yaml").read_text(encoding="utf-8"))
    return data[language]


@cache
def _template(language: str, ext: str) -> Template:
    return Template((TEMPLATES / f"reminder.{language}.{ext}").read_text(encoding="utf-8"))


def mail_domain(settings: Settings) -> str:
    """The domain of Message-IDs and calendar UIDs: the From address's, else the site's host."""
    address = parseaddr(settings.smtp_from)[1]
    if "@" in address:
        return address.rsplit("@", 1)[1].lower()
    return urlsplit(settings.base_url).hostname or "parley.localhost"


# --- words, dates and times ---------------------------------------------------------------------------


class Words:
    """The phrases of one language, and dates and times said in it."""

    def __init__(self, language: str) -> None:
        # a delivery's language was picked when it was scheduled; picked again by the shared order,
        # a language the templates lack (a row from before it was dropped, say) still gives a mail
        self.language = interface_language([language])
        self.L = labels(language)

    def __getitem__(self, key: str) -> Any:
        return self.L[key]

    def date(self, when: datetime) -> str:
        return str(self.L["date"]).format(
            weekday=self.L["weekdays"][when.weekday()],
            day=when.day,
            month=self.L["months"][when.month - 1],
            year=when.year,
        )

    def zone(self, zone: ZoneInfo) -> str:
        city = zone.key.rsplit("/", 1)[-1].replace("_", " ")
        return str(self.L["zone"]).format(city=self.L["cities"].get(city, city))

    def when(self, minutes: int) -> str:
        hours, rest = divmod(minutes, 60)
        if hours and rest:
            return str(self.L["when_mixed"]).format(h=hours, m=rest)
        if hours == 1:
            return str(self.L["when_hour"])
        if hours:
            return str(self.L["when_hours"]).format(n=hours)
        return str(self.L["when_minutes"]).format(n=rest)


def clock(instant: datetime, zone: tzinfo) -> str:
    local = instant.astimezone(zone)
    return f"{local.hour}:{local.minute:02d}"


def span(start: datetime, end: datetime, zone: tzinfo) -> str:
    return f"{clock(start, zone)}–{clock(end, zone)}"


class Zones:
    """The event's zone, and the recipient's when it is known and not the same."""

    def __init__(self, mail: ReminderMail) -> None:
        self.event = ZoneInfo(mail.event_timezone)
        own = ZoneInfo(mail.recipient_timezone) if mail.recipient_timezone else None
        self.recipient = own if own is not None and own.key != self.event.key else None

    def other(self, words: Words, start: datetime, end: datetime) -> str | None:
        """The span in the recipient's zone, with their date when it is not the event's."""
        if self.recipient is None:
            return None
        text = span(start, end, self.recipient)
        if start.astimezone(self.recipient).date() != start.astimezone(self.event).date():
            text += f" ({words.date(start.astimezone(self.recipient))})"
        return str(words["in_your_zone"]).format(zone=words.zone(self.recipient), span=text)


def _person(words: Words, name: str, title: str | None, affiliation: str | None) -> str:
    return ", ".join(part for part in (name, title, affiliation) if part)


def _segment_lines(words: Words, zones: Zones, segment: MailSegment) -> tuple[str, list[str]]:
    """(heading, detail lines) of one segment, as plain text."""
    heading = f"{span(segment.starts_at, segment.ends_at, zones.event)}  {segment.title}"
    if segment.own_role:
        heading += f"  ({words['your_role'][segment.own_role]})"
    details = []
    other = zones.other(words, segment.starts_at, segment.ends_at)
    if other:
        details.append(other)
    moderators = [_person(words, n, t, a) for role, n, t, a in segment.people if role == "moderator"]
    speakers = [_person(words, n, t, a) for role, n, t, a in segment.people if role == "speaker"]
    if moderators:
        details.append(f"{words['moderator']}{words['colon']}{'; '.join(moderators)}")
    if speakers:
        details.append(f"{words['speakers']}{words['colon']}{'; '.join(speakers)}")
    return heading, details


# --- the message --------------------------------------------------------------------------------------


def _fields(mail: ReminderMail, words: Words, zones: Zones) -> dict[str, str]:
    start = mail.starts_at.astimezone(zones.event)
    common = {
        "event": mail.event_title,
        "day": mail.day_title,
        "date": words.date(start),
        "time": clock(mail.starts_at, zones.event),
        "zone": words.zone(zones.event),
        "when": words.when(mail.minutes_before),
        "name": mail.to_name,
    }
    intro_key = "intro_speakers" if mail.audience == "speakers" else "intro_attendees"
    times = f"{span(mail.starts_at, mail.ends_at, zones.event)} ({words.zone(zones.event)})"
    other = zones.other(words, mail.starts_at, mail.ends_at)
    return {
        "subject": str(words["subject"]).format(**common),
        "greeting": str(words["greeting"]).format(**common),
        "intro": str(words[intro_key]).format(**common),
        "times": times + (f" · {other}" if other else ""),
        "footer": str(words["footer"]).format(**common),
    }


def render_text(mail: ReminderMail, words: Words, zones: Zones, fields: dict[str, str]) -> str:
    own = [s for s in mail.segments if s.own_role]
    own_block = ""
    if own:
        lines = [f"{words['your_segments']}{words['colon'].rstrip()}"]
        for s in own:
            lines.append(
                f"  * {span(s.starts_at, s.ends_at, zones.event)}  {s.title}  ({words['your_role'][s.own_role]})"
            )
        own_block = "\n".join(lines) + "\n\n"
    programme = []
    for segment in mail.segments:
        heading, details = _segment_lines(words, zones, segment)
        programme.append(f"  * {heading}")
        programme += [f"      {line}" for line in details]
    if mail.join_url:
        join = f"{words['join']}{words['colon']}{mail.join_url}\n{words['join_note']}"
    else:
        join = str(words["no_link"]).format(url=mail.site_url)
    return _template(words.language, "txt").substitute(
        fields,
        own_segments=own_block,
        programme_heading=f"{words['programme']}{' – ' + mail.day_theme if mail.day_theme else ''}",
        programme="\n".join(programme),
        join=join,
        ics_note=words["ics_note"],
        event_title=mail.event_title,
    )


def render_html(mail: ReminderMail, words: Words, zones: Zones, fields: dict[str, str]) -> str:
    e = html.escape
    own = [s for s in mail.segments if s.own_role]
    own_block = ""
    if own:
        items = "".join(
            f"<li><strong>{e(span(s.starts_at, s.ends_at, zones.event))}</strong> {e(s.title)}"
            f" <em>({e(words['your_role'][s.own_role])})</em></li>"
            for s in own
        )
        own_block = f"<p><strong>{e(words['your_segments'])}</strong></p><ul>{items}</ul>"
    rows = []
    for segment in mail.segments:
        heading, details = _segment_lines(words, zones, segment)
        style = ' style="background: #fff6d6;"' if segment.own_role else ""
        rows.append(
            f"<li{style}><strong>{e(heading)}</strong>"
            + "".join(f'<br><span style="color: #444;">{e(line)}</span>' for line in details)
            + "</li>"
        )
    if mail.join_url:
        join = (
            f'<a href="{e(mail.join_url)}" style="background: #0b5cad; color: #fff; padding: 10px 16px;'
            f' text-decoration: none; border-radius: 4px;">{e(words["join"])}</a>'
            f'<br><span style="color: #555; font-size: 13px;">{e(words["join_note"])}</span>'
        )
    else:
        join = e(str(words["no_link"]).format(url=mail.site_url))
    theme = f" – {mail.day_theme}" if mail.day_theme else ""
    return _template(words.language, "html").substitute(
        {k: e(v) for k, v in fields.items()},
        lang=e(words.language),
        own_segments=own_block,
        programme_heading=e(f"{words['programme']}{theme}"),
        programme=f'<ul style="padding-left: 18px;">{"".join(rows)}</ul>',
        join=join,
        ics_note=e(words["ics_note"]),
        event_title=e(mail.event_title),
    )


def _ics_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines of at most 75 octets, continued with CRLF + space, never inside a character."""
    if len(line) <= 75 and line.isascii():  # most lines: nothing to fold (and no character walk)
        return line
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def _ics_time(instant: datetime) -> str:
    return instant.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")


def render_ics(mail: ReminderMail, text: str) -> bytes:
    location = mail.join_url or mail.site_url
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Parley//Reminders//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{mail.calendar_uid}",
        f"SEQUENCE:{mail.calendar_sequence}",
        f"DTSTAMP:{_ics_time(mail.mail_date)}",
        f"DTSTART:{_ics_time(mail.starts_at)}",
        f"DTEND:{_ics_time(mail.ends_at)}",
        f"SUMMARY:{_ics_text(f'{mail.event_title} – {mail.day_title}')}",
        f"DESCRIPTION:{_ics_text(text)}",
        f"LOCATION:{_ics_text(location)}",
        f"URL:{location}",
        "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()


def compose_reminder(mail: ReminderMail, settings: Settings) -> Message:
    """multipart/mixed: (text/plain | text/html) alternatives, then the .ics attachment.

    Built with the compat32 MIME classes: the modern policy's header folding in Python 3.11 drops
    the spaces between encoded words of a non-ASCII subject.
    """
    words = Words(mail.language)
    zones = Zones(mail)
    fields = _fields(mail, words, zones)
    text = render_text(mail, words, zones, fields)
    # fixed boundaries: the same delivery always gives the same bytes
    tag = _digest_tag(mail.message_id)
    body = MIMEMultipart("alternative", boundary=f"==parley-{tag}-a==")
    body.attach(MIMEText(text, "plain", READABLE_UTF8))  # type: ignore[arg-type]  # a Charset is accepted
    body.attach(MIMEText(render_html(mail, words, zones, fields), "html", READABLE_UTF8))  # type: ignore[arg-type]
    calendar = MIMEText(render_ics(mail, text).decode(), "calendar", "utf-8")
    calendar.set_param("method", "PUBLISH")
    calendar.add_header("Content-Disposition", "attachment", filename=f"{mail.event_slug}-{mail.day.isoformat()}.ics")
    message = MIMEMultipart("mixed", boundary=f"==parley-{tag}-m==")
    message.attach(body)
    message.attach(calendar)
    message["From"] = settings.smtp_from
    message["To"] = formataddr((mail.to_name, mail.to_email), charset="utf-8")
    message["Subject"] = Header(fields["subject"], "utf-8")  # type: ignore[assignment]
    message["Date"] = format_datetime(mail.mail_date)
    message["Message-ID"] = mail.message_id
    message["Content-Language"] = words.language
    message["Auto-Submitted"] = "auto-generated"
    message["X-Parley-Reminder"] = f"{mail.event_slug} {mail.day.isoformat()} {mail.kind}"
    _check_headers(message, mail)
    return message


_NOT_IN_A_HEADER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class CompositionError(ValueError):
    """The delivery's data cannot make a well-formed mail; the delivery is marked failed with this."""


def _check_headers(message: Message, mail: ReminderMail) -> None:
    check_headers(message, mail.to_name, mail.to_email)


def check_headers(message: Message, to_name: str, to_email: str) -> None:
    """Refuse, at composition, a mail that would fail (or be altered) when it is serialised to be sent.

    A line break in the recipient's name (stored before names were checked) would inject a header:
    the library refuses it only while writing the message out, so fold every header here, once.
    """
    for what, text in (("name", to_name), ("address", to_email)):
        if _NOT_IN_A_HEADER.search(text):
            raise CompositionError(f"the recipient's {what} holds a line break or a control character: {text!r}")
    for name, value in message.items():
        try:
            message.policy.fold(name, value)
        except HeaderParseError as exc:
            raise CompositionError(f"the {name} header cannot be written: {exc}") from None


def _digest_tag(message_id: str) -> str:
    return hashlib.sha256(message_id.encode()).hexdigest()[:24]


# shared with the confirmation, lost-link and message mails (workers/notices.py)
ics_text, fold, ics_time, digest_tag = _ics_text, _fold, _ics_time, _digest_tag


# --- sending ------------------------------------------------------------------------------------------


def write_outbox(message: Message, name: str, folder: Path) -> Path:
    """Atomically: a half-written .eml never shows; the same copy written twice is one file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.eml"
    partial = folder / f".{name}.{os.getpid()}.partial"
    partial.write_bytes(message.as_bytes())
    os.replace(partial, target)
    return target


class SmtpConnection:
    """One SMTP connection for a batch of messages, opened at the first and closed (QUIT) by ``close()``.

    ``send`` is a ``Send``: it hands one message over and calls ``accepted()`` as soon as the server has
    answered 250 to it, before the next message; DeliveryError says whether trying again could help.
    A recipient refused (5xx) or a message answered 4xx fails that message only: the connection goes
    on (smtplib has reset the transaction). A connection that carried earlier messages and drops (the
    server's idle timeout or per-connection limit, a reset, a 421) is opened once more and the message
    tried again on it: the same bytes, so at worst the identical copy the crash window already allows
    (docs/workers.md). A connection that cannot be opened, or drops again, raises with
    ``connection_lost``: the batch leaves its other messages for the next scan.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: smtplib.SMTP | None = None
        self.sent = 0  # messages accepted on the current connection

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        client: smtplib.SMTP
        if settings.smtp_ssl:
            client = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.smtp_timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        try:
            if settings.smtp_starttls:
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        except BaseException:
            client.close()
            raise
        return client

    def send(self, message: Message, mail: object, accepted: Callable[[], None], /) -> None:
        while True:
            reused = self.client is not None and self.sent > 0
            try:
                if self.client is None:
                    self.client, self.sent = self._connect(), 0
                self.client.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
                reply: bytes | str
                if isinstance(exc, smtplib.SMTPRecipientsRefused):
                    code, reply = min(exc.recipients.values(), key=lambda item: item[0])
                else:
                    code, reply = exc.smtp_code, exc.smtp_error
                if code != 421:  # 421: the server is closing the connection, as a drop
                    raise _refused(code, reply) from None
                self._drop()
                if not reused:
                    raise _refused(code, reply, connection_lost=True) from None
            except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timed out, disconnected
                self._drop()
                if not reused:
                    raise DeliveryError(
                        f"SMTP {self.settings.smtp_host}:{self.settings.smtp_port}: {exc or type(exc).__name__}",
                        permanent=False,
                        connection_lost=True,
                    ) from None
            else:
                self.sent += 1
                accepted()  # the server has it: record that before the next message and the goodbye
                return
            log.info("the SMTP connection dropped after earlier messages: connecting again")

    def _drop(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client, self.sent = None, 0

    def close(self) -> None:
        """QUIT. Every message is accepted (or not) by now: a failing QUIT must not turn into a resend."""
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                self.client.close()
        self.client, self.sent = None, 0


def send_smtp(message: Message, settings: Settings, accepted: Callable[[], None] = lambda: None) -> None:
    """One message over its own connection: ``accepted()`` as soon as the server has answered 250 to
    it, before QUIT; DeliveryError says whether trying again could help."""
    connection = SmtpConnection(settings)
    try:
        connection.send(message, None, accepted)
    finally:
        connection.close()


def _refused(code: int, reply: bytes | str, *, connection_lost: bool = False) -> DeliveryError:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return DeliveryError(
        f"SMTP {code} {text}".strip(), permanent=500 <= code < 600, code=code, connection_lost=connection_lost
    )


class Sender(Protocol):
    """What a batch sends with: ``send`` (a ``Send``) per message, then ``close()`` once."""

    def send(self, message: Message, mail: ReminderMail | NoticeMail, accepted: Callable[[], None], /) -> None: ...

    def close(self) -> None: ...


class Outbox:
    """The outbox folder as a sender: each message an .eml file, accepted once written."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: Message, mail: ReminderMail | NoticeMail, accepted: Callable[[], None], /) -> None:
        write_outbox(message, mail.outbox_name, self.folder)
        accepted()

    def close(self) -> None:
        pass


def sender(settings: Settings) -> Sender:
    """SMTP when PARLEY_SMTP_HOST is set (one connection per batch); otherwise the outbox folder
    DATA_DIR/outbox."""
    if settings.smtp_host:
        return SmtpConnection(settings)
    outbox = settings.data_dir / "outbox"
    if settings.env == "production":
        log.warning("PARLEY_SMTP_HOST is not set: reminder mails go to %s, not to people", outbox)
    return Outbox(outbox)
