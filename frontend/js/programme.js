// The programme of the mornings: times in the event's time zone and, when it differs, the browser's.

import { h, replaceChildren } from "./dom.js";
import { t, localized, formatTime, formatDate, offsetMinutes, utcLabel, browserTimeZone } from "./page.js";

/** How the browser's zone compares with the event's over the event's days. */
export function zoneComparison(event, localZone = browserTimeZone()) {
  const days = event.days.map((day) => {
    const at = new Date(day.starts_at);
    const eventOffset = offsetMinutes(event.timezone, at);
    const localOffset = offsetMinutes(localZone, at);
    return { date: day.date, eventOffset, localOffset, difference: localOffset - eventOffset };
  });
  const differs = days.some((d) => d.difference !== 0);
  return { localZone, eventZone: event.timezone, days, differs };
}

function differenceText(minutes) {
  const abs = Math.abs(minutes);
  const hours = Math.floor(abs / 60);
  const rest = abs % 60;
  const amount = rest ? t("unit.h_min", { h: hours, m: rest }) : t("unit.hours", { n: hours });
  return t(minutes > 0 ? "tz.ahead" : "tz.behind", { amount });
}

export function renderZoneNote(el, event) {
  const cmp = zoneComparison(event);
  const first = cmp.days[0];
  const city = t("tz.event_city");
  if (!cmp.differs) {
    replaceChildren(el, t("tz.same", { city, utc: utcLabel(first.eventOffset) }));
    el.dataset.differs = "false";
    return cmp;
  }
  el.dataset.differs = "true";
  replaceChildren(
    el,
    h("strong", {}, t("tz.differs_title")),
    " ",
    t("tz.differs", {
      city,
      utc: utcLabel(first.eventOffset),
      zone: cmp.localZone,
      localUtc: utcLabel(first.localOffset),
      difference: differenceText(first.difference),
    }),
  );
  return cmp;
}

function personLine(person) {
  const parts = [person.title, person.affiliation].filter(Boolean).join(", ");
  return h(
    "li",
    {},
    h("span", { class: "person-name" }, person.name),
    person.role === "moderator" ? h("span", { class: "tag" }, t("programme.moderator")) : null,
    parts ? h("span", { class: "person-title", lang: "fr" }, ` — ${parts}`) : null,
    person.video_message ? h("span", { class: "tag" }, t("programme.video")) : null,
  );
}

function timeRange(segment, zone) {
  return `${formatTime(segment.starts_at, zone)}–${formatTime(segment.ends_at, zone)}`;
}

/**
 * Days as sections; ``statusOf(segmentId)`` gives the live status to badge a segment with
 * (live, paused, ended) or null.
 */
export function renderProgramme(container, event, statusOf = () => null) {
  const cmp = zoneComparison(event);
  const days = event.days.map((day) => {
    const [dayTitle, dayLang] = localized(day.title);
    const [theme, themeLang] = localized(day.theme || {});
    return h(
      "section",
      { class: "day", "aria-labelledby": `day-${day.date}` },
      h(
        "h3",
        { id: `day-${day.date}` },
        h("span", { lang: dayLang }, dayTitle),
        " · ",
        formatDate(day.date, "UTC"),
      ),
      theme ? h("p", { class: "theme", lang: themeLang }, theme) : null,
      h(
        "ol",
        { class: "segments" },
        day.segments.map((segment) => {
          const [title, titleLang] = localized(segment.title);
          const status = statusOf(segment.id);
          const local = cmp.differs
            ? h("span", { class: "local-time" }, t("programme.your_time", { range: timeRange(segment, cmp.localZone) }))
            : null;
          return h(
            "li",
            { class: `segment${status ? ` is-${status}` : ""}`, dataset: { segment: segment.id } },
            h(
              "p",
              { class: "times" },
              h("span", { class: "event-time" }, t("programme.event_time", { range: timeRange(segment, event.timezone) })),
              local ? " " : null,
              local,
            ),
            h(
              "p",
              { class: "segment-title" },
              h("span", { lang: titleLang }, title),
              " ",
              h("span", { class: "tag" }, t(`kind.${segment.kind}`)),
              status ? h("span", { class: `tag status-${status}` }, t(`status.${status}`)) : null,
            ),
            segment.people.length ? h("ul", { class: "people" }, segment.people.map(personLine)) : null,
          );
        }),
      ),
    );
  });
  replaceChildren(container, ...days);
}
