// Who has the floor, with the running timer and the over-time warning (attendee and moderator).

import { h, $ } from "./dom.js";
import { t, announce } from "./page.js";
import { forecast, clockText } from "./forecast.js";

/** ``mine``: the speech is the connected person's own (``speech.who === me.who``). */
export function speakerBlock(speech, mine = false) {
  return [
    h("p", { class: "label" }, t("now.floor")),
    h(
      "p",
      { class: "speaker-name" },
      speech.speaker_name,
      mine ? h("span", { class: "tag you" }, t("person.you")) : null,
      speech.point_of_order ? h("span", { class: "tag warn" }, t("floor.point_of_order")) : null,
    ),
    speech.organisation ? h("p", { class: "muted" }, speech.organisation) : null,
    speech.on_behalf_of ? h("p", {}, t("now.on_behalf", { who: speech.on_behalf_of })) : null,
    speech.topic ? h("p", {}, t("now.topic", { topic: speech.topic })) : null,
    timerBlock(speech),
  ];
}

export function timerBlock(speech) {
  return h(
    "div",
    { class: "timer", id: "timer" },
    h("p", { class: "timer-text" }, h("span", { id: "timer-elapsed", class: "big" }, "0:00"), " / ", clockText(speech.limit_s),
      speech.paused_at ? h("span", { class: "tag" }, t("now.paused")) : null),
    h("div", { class: "bar", "aria-hidden": "true" }, h("div", { class: "bar-fill", id: "timer-bar" })),
    h("p", { id: "time-warning", class: "time-warning", hidden: true }),
    h("p", { id: "overtime", class: "overtime", hidden: true }),
  );
}

/** Seconds left when the speaker and the moderator are warned that time is running out. */
export const WARN_BEFORE_S = 150;

/** Which warning a speech is at: "over" (past its limit), "soon" (at most WARN_BEFORE_S left, on a
 * limit longer than that), or null. Each is announced once per speech and limit, not every tick. */
export function timeWarning(speech, f) {
  if (!speech || f.speech_elapsed_s === null) return null;
  if (f.over_time_s > 0) return "over";
  const left = speech.limit_s - f.speech_elapsed_s;
  return speech.limit_s > WARN_BEFORE_S && left <= WARN_BEFORE_S ? "soon" : null;
}

/** Update the running timer and the drift line (every quarter second). ``warn``: this page is the
 * speaker's own or the moderator's: show and announce the two-and-a-half-minute warning too, and
 * say the over-run to the speaker in the second person. */
export function tickTimer(pub, nowMs, said, { warn = false, mine = false } = {}) {
  const speech = pub.stage.speech;
  const elapsedEl = $("#timer-elapsed");
  if (!speech || !elapsedEl) return forecast(pub, nowMs);
  const f = forecast(pub, nowMs);
  elapsedEl.textContent = clockText(f.speech_elapsed_s);
  const bar = $("#timer-bar");
  bar.style.width = `${Math.min(100, (100 * f.speech_elapsed_s) / speech.limit_s)}%`;
  const over = f.over_time_s > 0;
  $("#timer").classList.toggle("is-over", over);
  const overtime = $("#overtime");
  overtime.hidden = !over;
  if (over) {
    overtime.textContent = t("now.over_time", { time: clockText(f.over_time_s) });
    const key = `${speech.id}:${speech.limit_s}:over`;
    if (!said.has(key)) {
      said.add(key);
      announce(mine ? t("say.over_time_you") : t("say.over_time", { name: speech.speaker_name }), { assertive: warn });
    }
  }
  const soon = warn && timeWarning(speech, f) === "soon";
  const warning = $("#time-warning");
  if (warning) {
    warning.hidden = !soon;
    if (soon) {
      const text = t("now.time_left", { time: clockText(Math.ceil(speech.limit_s - f.speech_elapsed_s)) });
      if (warning.textContent !== text) warning.textContent = text;
      const key = `${speech.id}:${speech.limit_s}:soon`;
      if (!said.has(key)) {
        said.add(key);
        announce(mine ? t("say.time_soon_you") : t("say.time_soon", { name: speech.speaker_name }));
      }
    }
  }
  return f;
}

export function commandErrorText(error) {
  const key = `err.${error.code}`;
  const text = t(key);
  return text === key ? error.message || t("error.generic") : text;
}

