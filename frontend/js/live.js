// Starting a live view: a store, a connection, the connection indicator and the announcements of
// what changes on stage (the same for every page that shows the live state).

import { Store, segmentInProgress } from "./store.js";
import { LiveConnection } from "./connection.js";
import { announce, showConnection, t, localized, onLangChange } from "./page.js";

export function segmentTitle(pub, id) {
  const segment = pub.segments.find((s) => s.id === id);
  return segment ? localized(segment.title)[0] : "";
}

export function personName(pub, personId) {
  for (const segment of pub.segments) {
    const person = segment.people.find((p) => p.id === personId);
    if (person) return person.name;
  }
  return "";
}

function speakerLabel(speech) {
  return speech.organisation ? `${speech.speaker_name} (${speech.organisation})` : speech.speaker_name;
}

/** The sentence a screen reader hears for a public event, or null. */
export function describeEvent(ev, store) {
  const pub = store.public;
  switch (ev.type) {
    case "segment.opened":
      return t("say.segment_opened", { title: segmentTitle(pub, ev.segment_id) });
    case "segment.paused":
      return t("say.segment_paused", { title: segmentTitle(pub, ev.segment_id) });
    case "segment.resumed":
      return t("say.segment_resumed", { title: segmentTitle(pub, ev.segment_id) });
    case "segment.ended":
      return t("say.segment_ended", { title: segmentTitle(pub, ev.segment_id) });
    case "speech.started":
      return t(ev.speech.point_of_order ? "say.floor_point_of_order" : "say.floor", { name: speakerLabel(ev.speech) });
    case "speech.ended":
      return t("say.floor_ended", { name: ev.speech.speaker_name });
    case "speech.paused":
      return t("say.speech_paused");
    case "speech.resumed":
      return t("say.speech_resumed");
    case "notice.posted":
      return t("say.notice", { text: ev.text });
    case "queue.closed":
      return t("say.queue_closed");
    case "queue.opened":
      return t("say.queue_opened");
    case "poll.opened":
      return t("say.poll_opened", { question: ev.poll.question });
    case "poll.closed": {
      const poll = pub.polls.find((p) => p.id === ev.poll_id);
      return poll ? t("say.poll_closed", { question: poll.question }) : null;
    }
    case "poll.results_published": {
      const poll = pub.polls.find((p) => p.id === ev.poll_id);
      return poll ? t("say.poll_results", { question: poll.question }) : null;
    }
    case "queue.order_set":
      return t(ev.order === "category" ? "say.queue_by_category" : "say.queue_by_request");
    case "question.highlighted": {
      if (ev.question_id === null) return null;
      const question = pub.questions.find((q) => q.id === ev.question_id);
      return question ? t("say.answering", { text: question.text }) : null;
    }
    default:
      return null;
  }
}

export function startLive(slug, { onChange = () => {}, onStatus = () => {} } = {}) {
  const store = new Store();
  const connection = new LiveConnection({
    slug,
    store,
    onStatus: (status, detail) => {
      showConnection(status, detail);
      onStatus(status, detail);
    },
  });
  store.subscribe((change) => {
    if (change.kind === "event" && change.channel === "public") {
      const sentence = describeEvent(change.event, store);
      if (sentence) announce(sentence);
    }
    onChange(change);
  });
  onLangChange(() => {
    showConnection(connection.status || "connecting");
    if (store.ready) onChange({ kind: "lang" });
  });
  connection.start();
  // for the browser tests and for debugging from the console
  window.__parley = { store, connection, segmentInProgress };
  return { store, connection };
}

/** Calls ``tick(nowMs)`` every quarter second with the server's clock (timers, drift). */
export function everySecond(connection, tick) {
  const run = () => tick(connection.now());
  run();
  return setInterval(run, 250);
}
