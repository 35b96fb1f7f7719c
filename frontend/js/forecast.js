// server/core/forecast.py in the browser: how late the morning runs, when it will end, how long
// the speaker has spoken. A pure function of the public view and the clock, recomputed every second.

import { segmentInProgress } from "./store.js";

const ms = (iso) => Date.parse(iso);

export function spokenSeconds(speech, nowMs) {
  const until = speech.paused_at ? ms(speech.paused_at) : nowMs;
  return Math.max(0, (until - ms(speech.started_at)) / 1000 - speech.paused_s);
}

export function forecast(pub, nowMs) {
  const live = segmentInProgress(pub);
  const opened = pub.segments.filter((s) => s.status !== "scheduled");
  const highWater = opened.length ? Math.max(...opened.map((s) => ms(s.starts_at))) : null;
  const ahead = pub.segments
    .filter((s) => s.status === "scheduled" && (highWater === null || ms(s.starts_at) >= highWater))
    .sort((a, b) => ms(a.starts_at) - ms(b.starts_at) || a.id - b.id);
  let lastEnded = null;
  for (const s of pub.segments) {
    if (s.status !== "ended" || !s.ended_at) continue;
    if (!lastEnded || ms(s.ended_at) > ms(lastEnded.ended_at) || (ms(s.ended_at) === ms(lastEnded.ended_at) && s.id > lastEnded.id)) {
      lastEnded = s;
    }
  }
  const day = live ? live.day : ahead.length ? ahead[0].day : lastEnded ? lastEnded.day : null;
  const length = (s) => ms(s.ends_at) - ms(s.starts_at);
  let cursor = null;
  let drift = 0;
  const speech = pub.stage.speech;
  const elapsed = speech ? spokenSeconds(speech, nowMs) : null;
  const overTime = speech ? Math.max(0, elapsed - speech.limit_s) : null;
  if (live) {
    // the speaker's over-run was not in the plan: it moves the end of the segment, and the day's
    cursor = Math.max((live.opened_at ? ms(live.opened_at) : nowMs) + length(live) + (overTime ?? 0) * 1000, nowMs);
    drift = (cursor - ms(live.ends_at)) / 1000;
  } else if (lastEnded && lastEnded.day === day) {
    cursor = ms(lastEnded.ended_at);
    drift = (cursor - ms(lastEnded.ends_at)) / 1000;
  }
  const remaining = ahead.filter((s) => s.day === day);
  if (!live && remaining.length) {
    const first = ms(remaining[0].starts_at);
    drift = Math.max(0, (Math.max(first, cursor ?? nowMs, nowMs) - first) / 1000);
  }
  for (const s of remaining) {
    const start = Math.max(ms(s.starts_at), nowMs, cursor ?? nowMs);
    cursor = start + length(s);
  }
  return {
    day,
    drift_s: drift,
    forecast_end_of_day: cursor === null ? null : new Date(cursor).toISOString(),
    speech_elapsed_s: elapsed,
    over_time_s: overTime,
  };
}

/** "4:05", "1:02:03" for a duration in seconds (rounded down). */
export function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}
