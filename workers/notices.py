"""Confirmation, lost-link and organisers' message mails: compose (text + HTML, and for the
confirmation an .ics of every morning), in fr/en/es. Sent by ``workers/mail.py``'s sender, like
reminders; ``compose`` picks the composer of a delivery's mail.

As for reminders, composition is deterministic for one copy of one delivery (Message-ID, Date and
MIME boundaries derive from the delivery) and each morning's calendar UID is the person's and the
morning's, the one reminders use: the reminders later update the entries the confirmation made.
"""

from __future__ import annotations

import html
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from config.settings import Settings
from server.services.reminders import ReminderMail
from server.services.reminders.notices import NoticeMail, NoticeMorning
from workers import mail as reminder_mail
from workers.mail import READABLE_UTF8, Words, span

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def _notice_labels(language: str) -> dict[str, Any]:
    data: dict[str, dict[str, Any]] = yaml.safe_load((TEMPLATES / "notices.yaml").read_text(encoding="utf-8"))
    return data[language]


class NoticeWords(Words):
    def __init__(self, language: str) -> None:
        super().__init__(language)
        self.L = {**self.L, **_notice_labels(self.language)}


def compose(mail: ReminderMail | NoticeMail, settings: Settings) -> Message:
    """The worker's one composer: a reminder, or one of the mails here."""
    if isinstance(mail, NoticeMail):
        return compose_notice(mail, settings)
    return reminder_mail.compose_reminder(mail, settings)


def _morning_line(words: Words, morning: NoticeMorning, event_zone: ZoneInfo, own: ZoneInfo | None) -> str:
    start = morning.starts_at.astimezone(event_zone)
    line = f"{words.date(start)}, {span(morning.starts_at, morning.ends_at, event_zone)} ({words.zone(event_zone)})"
    if morning.title:
        line += f" – {morning.title}"
    if own is not None:
        other = span(morning.starts_at, morning.ends_at, own)
        if morning.starts_at.astimezone(own).date() != start.date():
            other += f" ({words.date(morning.starts_at.astimezone(own))})"
        line += f"\n      {str(words['in_your_zone']).format(zone=words.zone(own), span=other)}"
    return line


def _parts(mail: NoticeMail, words: NoticeWords) -> tuple[str, list[list[str]]]:
    """(subject, paragraphs): each paragraph a list of lines, the same for the text and the HTML part."""
    event = mail.event_title
    paragraphs: list[list[str]] = [[str(words["greeting"]).format(name=mail.to_name)]]
    if mail.kind == "confirmation":
        subject = str(words["confirmation_subject"]).format(event=event)
        paragraphs.append([str(words["confirmation_intro"]).format(event=event)])
        zone = ZoneInfo(mail.event_timezone)
        own = ZoneInfo(mail.recipient_timezone) if mail.recipient_timezone else None
        own = own if own is not None and own.key != zone.key else None
        if mail.mornings:
            lines = [f"{words['mornings']}{words['colon'].rstrip()}"]
            lines += [f"  * {_morning_line(words, m, zone, own)}" for m in mail.mornings]
            paragraphs.append(lines)
    elif mail.kind == "link":
        subject = str(words["link_subject"]).format(event=event)
        paragraphs.append([str(words["link_intro"]).format(event=event)])
    else:
        subject = mail.subject
        paragraphs += [p.splitlines() for p in mail.text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    if mail.join_url:
        paragraphs.append([f"{words['join']}{words['colon']}{mail.join_url}", str(words["join_note"])])
        if mail.kind != "message":
            paragraphs.append([str(words["keep_link"])])
    if mail.kind == "link":
        paragraphs.append([str(words["link_unasked"])])
    if mail.mornings:
        paragraphs.append([str(words["ics_note_all"])])
    return subject, paragraphs


def render_text(mail: NoticeMail, words: NoticeWords, paragraphs: list[list[str]]) -> str:
    footer = str(words["footer"]).format(event=mail.event_title)
    return "\n\n".join("\n".join(p) for p in paragraphs) + f"\n\n-- \n{mail.event_title}\n{footer}\n"


def render_html(mail: NoticeMail, words: NoticeWords, subject: str, paragraphs: list[list[str]]) -> str:
    e = html.escape
    body = []
    for lines in paragraphs:
        if mail.join_url and lines[0].endswith(mail.join_url):
            body.append(
                f'<p style="margin: 24px 0;"><a href="{e(mail.join_url)}" style="background: #0b5cad; color: #fff;'
                f' padding: 10px 16px; text-decoration: none; border-radius: 4px;">{e(words["join"])}</a><br>'
                f'<span style="color: #555; font-size: 13px;">{e(lines[1])}</span></p>'
            )
        else:
            body.append("<p>" + "<br>".join(e(line.strip()) for line in lines) + "</p>")
    footer = str(words["footer"]).format(event=mail.event_title)
    return (
        f'<!DOCTYPE html>\n<html lang="{e(words.language)}">\n<head><meta charset="utf-8"><title>{e(subject)}</title>'
        '</head>\n<body style="font-family: Arial, Helvetica, sans-serif; color: #1a1a1a; max-width: 640px;'
        ' margin: 0 auto; padding: 16px;">\n'
        + "\n".join(body)
        + '\n<hr style="border: none; border-top: 1px solid #ddd;">\n'
        f'<p style="color: #555; font-size: 13px;">{e(mail.event_title)}<br>{e(footer)}</p>\n</body>\n</html>\n'
    )


def render_ics(mail: NoticeMail) -> bytes:
    """One VEVENT per morning, with the UID and SEQUENCE the reminders of that morning use."""
    location = mail.join_url or mail.site_url
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Parley//Reminders//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for morning in mail.mornings:
        summary = f"{mail.event_title} – {morning.title}" if morning.title else mail.event_title
        lines += [
            "BEGIN:VEVENT",
            f"UID:{morning.calendar_uid}",
            f"SEQUENCE:{morning.calendar_sequence}",
            f"DTSTAMP:{_utc(mail.mail_date)}",
            f"DTSTART:{_utc(morning.starts_at)}",
            f"DTEND:{_utc(morning.ends_at)}",
            f"SUMMARY:{reminder_mail.ics_text(summary)}",
            f"LOCATION:{reminder_mail.ics_text(location)}",
            f"URL:{location}",
            "STATUS:CONFIRMED",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(reminder_mail.fold(line) for line in lines) + "\r\n").encode()


def _utc(instant: datetime) -> str:
    return reminder_mail.ics_time(instant)


def compose_notice(mail: NoticeMail, settings: Settings) -> Message:
    """multipart/mixed: (text/plain | text/html), then for a confirmation the .ics of every morning."""
    words = NoticeWords(mail.language)
    subject, paragraphs = _parts(mail, words)
    tag = reminder_mail.digest_tag(mail.message_id)
    body = MIMEMultipart("alternative", boundary=f"==parley-{tag}-a==")
    body.attach(MIMEText(render_text(mail, words, paragraphs), "plain", READABLE_UTF8))  # type: ignore[arg-type]
    body.attach(MIMEText(render_html(mail, words, subject, paragraphs), "html", READABLE_UTF8))  # type: ignore[arg-type]
    message = MIMEMultipart("mixed", boundary=f"==parley-{tag}-m==")
    message.attach(body)
    if mail.mornings:
        calendar = MIMEText(render_ics(mail).decode(), "calendar", "utf-8")
        calendar.set_param("method", "PUBLISH")
        calendar.add_header("Content-Disposition", "attachment", filename=f"{mail.event_slug}.ics")
        message.attach(calendar)
    message["From"] = settings.smtp_from
    message["To"] = formataddr((mail.to_name, mail.to_email), charset="utf-8")
    message["Subject"] = Header(subject, "utf-8")  # type: ignore[assignment]
    message["Date"] = format_datetime(mail.mail_date)
    message["Message-ID"] = mail.message_id
    message["Content-Language"] = words.language
    message["Auto-Submitted"] = "auto-generated"
    message["X-Parley-Mail"] = f"{mail.event_slug} {mail.kind}"
    reminder_mail.check_headers(message, mail.to_name, mail.to_email)
    return message
