// The stream of the event: one embed URL per language channel (floor, fr, en, ...), picked by the
// attendee and remembered. URLs come from the programme file; only http(s) ones are embedded.

import { h, replaceChildren } from "./dom.js";
import { t, getLang } from "./page.js";

const key = (slug) => `parley.stream.${slug}`;

function channelLabel(channel) {
  const label = t(`stream.channel.${channel}`);
  return label === `stream.channel.${channel}` ? channel : label;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export function renderStream(container, event) {
  const channels = Object.keys(event.streams || {}).filter((c) => safeUrl(event.streams[c]));
  if (!channels.length) {
    replaceChildren(container, h("p", { class: "muted" }, t("stream.none")));
    return;
  }
  const existing = container.querySelector("#stream-frame");
  if (existing) {
    // a language switch: relabel, but never reload the player
    const select = container.querySelector("#stream-channel");
    for (const option of select.options) option.textContent = channelLabel(option.value);
    container.querySelector("label").textContent = t("stream.channel");
    existing.title = t("stream.frame_title", { channel: channelLabel(select.value) });
    return;
  }
  const saved = localStorage.getItem(key(event.slug));
  let chosen = channels.includes(saved) ? saved : channels.includes(getLang()) ? getLang() : channels.includes("floor") ? "floor" : channels[0];
  const frame = h("iframe", {
    id: "stream-frame",
    class: "stream-frame",
    allow: "autoplay; fullscreen; picture-in-picture",
    allowfullscreen: true,
    referrerpolicy: "strict-origin-when-cross-origin",
  });
  const show = () => {
    frame.title = t("stream.frame_title", { channel: channelLabel(chosen) });
    frame.src = safeUrl(event.streams[chosen]);
  };
  const select = h(
    "select",
    {
      id: "stream-channel",
      onchange: () => {
        chosen = select.value;
        localStorage.setItem(key(event.slug), chosen);
        show();
      },
    },
    channels.map((c) => h("option", { value: c, selected: c === chosen }, channelLabel(c))),
  );
  replaceChildren(
    container,
    h("label", { for: "stream-channel" }, t("stream.channel")),
    " ",
    select,
    h("div", { class: "stream-wrap" }, frame),
  );
  show();
}
