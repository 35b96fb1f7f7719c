// The live websocket: connect, keep the store in step, reconnect with backoff.
//
// - First connection: the server sends a snapshot. Reconnecting with the store's positions
//   (?epoch=E&public=N&staff=M), it replays exactly the missed events, or sends `resync` and a
//   snapshot. A seq gap seen on an event or a heartbeat sends `resume` on the open socket.
// - Heartbeats are answered with `ping`; a socket silent for 2.5 heartbeat intervals is presumed
//   dead and replaced (a cut network often never closes a websocket by itself).
// - Commands carry a cid and wait for their `result` or `error`; those not yet answered when the
//   socket drops are sent again, with the same cid, once reconnected (the server answers a repeated
//   cid with its first result, so nothing is applied twice).

import { command as makeCommand, newCid, PROTOCOL_VERSION } from "./protocol.js";

export const Status = Object.freeze({
  CONNECTING: "connecting",
  LIVE: "live",
  RECONNECTING: "reconnecting",
  OFFLINE: "offline",
  CLOSED: "closed",
});

const FATAL_CLOSE = new Map([
  [4401, "signed_out"],
  [4403, "forbidden"],
  [4404, "not_found"],
]);
const OUTDATED_CLOSE = 4000; // a normal, client-chosen close: this page cannot read the server's state
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const DEFAULT_HEARTBEAT_MS = 15000;
const COMMAND_TIMEOUT_MS = 15000;

export class CommandError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export class LiveConnection {
  constructor({ slug, store, onStatus = () => {}, onFrame = () => {} }) {
    this.slug = slug;
    this.store = store;
    this.onStatus = onStatus;
    this.onFrame = onFrame;
    this.ws = null;
    this.attempt = 0;
    this.status = null;
    this.pending = new Map(); // cid → {frame, resolve, reject, timer, sent}
    this.resuming = false;
    this.heartbeatMs = DEFAULT_HEARTBEAT_MS;
    this.lastBeatAt = null;
    this.clockOffsetMs = 0; // server time − local time, from heartbeats
    this.stopped = false;
    this.retryTimer = null;
    this.silenceTimer = null;
    this.opened = false;
    this.reconnects = 0;
    this.sessions = 0; // how many times this page went live (1 + successful reconnections)
    this.resumes = 0; // how many times a gap was filled on the open socket
    window.addEventListener("offline", () => this.wentOffline());
    window.addEventListener("online", () => this.cameOnline());
  }

  now() {
    return Date.now() + this.clockOffsetMs;
  }

  setStatus(status, detail = {}) {
    this.status = status;
    this.onStatus(status, detail);
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    if (this.ws) this.ws.close(1000, "bye");
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${scheme}//${location.host}/ws/events/${encodeURIComponent(this.slug)}`;
    const positions = this.store.positions;
    if (positions) {
      const query = new URLSearchParams({ epoch: positions.public.epoch, public: String(positions.public.seq) });
      if (positions.staff) query.set("staff", String(positions.staff.seq));
      url += `?${query}`;
    }
    return url;
  }

  open() {
    if (this.stopped) return;
    if (navigator.onLine === false) {
      this.setStatus(Status.OFFLINE);
      return;
    }
    this.setStatus(this.store.ready ? Status.RECONNECTING : Status.CONNECTING, { attempt: this.attempt });
    const ws = new WebSocket(this.url());
    this.ws = ws;
    this.opened = false;
    this.resuming = false;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.opened = true;
      this.armSilence();
      if (this.store.positions) this.becameLive(); // a replay follows, or a resync and snapshot
    });
    ws.addEventListener("message", (message) => {
      if (ws !== this.ws) return;
      this.armSilence();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      this.receive(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.closed(event.code, ws);
    });
  }

  becameLive() {
    this.attempt = 0;
    this.sessions += 1;
    this.setStatus(Status.LIVE, { reconnects: this.reconnects });
    for (const item of this.pending.values()) this.transmit(item);
  }

  receive(frame) {
    switch (frame.type) {
      case "snapshot":
        if (frame.protocol_version !== PROTOCOL_VERSION) {
          // The server speaks another protocol version (it was updated under this page): its
          // state would be misread, so stop here and ask for a reload instead of reconnecting.
          const ws = this.ws;
          this.fail("outdated");
          if (ws) ws.close(OUTDATED_CLOSE, "outdated");
          return;
        }
        this.store.load(frame);
        if (this.status !== Status.LIVE) this.becameLive();
        break;
      case "resync":
        this.store.invalidate(); // the snapshot that follows replaces everything
        break;
      case "event": {
        if (!this.store.positions) break; // a snapshot is on its way
        const outcome = this.store.receive(frame);
        if (outcome === "gap") this.resume();
        else if (outcome === "inconsistent") this.reload();
        break;
      }
      case "heartbeat":
        this.heartbeat(frame);
        break;
      case "result":
      case "error":
        this.answered(frame);
        break;
      default:
    }
    this.onFrame(frame);
  }

  heartbeat(frame) {
    const now = Date.now();
    if (this.lastBeatAt !== null) {
      const interval = now - this.lastBeatAt;
      if (interval > 100) this.heartbeatMs = Math.min(Math.max(interval, 250), 300000);
    }
    this.lastBeatAt = now;
    const serverNow = Date.parse(frame.server_time);
    if (!Number.isNaN(serverNow)) this.clockOffsetMs = serverNow - now;
    this.armSilence();
    this.sendRaw({ type: "ping", cid: newCid() });
    if (this.store.behind(frame.seqs)) this.resume();
  }

  /** Ask the server for what this store missed, on the open socket. */
  resume() {
    if (this.resuming || !this.store.positions || !this.isOpen()) return;
    this.resuming = true;
    this.resumes += 1;
    const { public: pub, staff } = this.store.positions;
    const channels = { public: { epoch: pub.epoch, seq: pub.seq } };
    if (staff) channels.staff = { epoch: staff.epoch, seq: staff.seq };
    const cid = newCid();
    this.pending.set(cid, {
      frame: { type: "resume", cid, channels },
      resolve: () => (this.resuming = false),
      reject: () => (this.resuming = false),
      timer: null,
      sent: false,
      control: true,
    });
    this.transmit(this.pending.get(cid));
  }

  /** The state no longer fits the events: start over with a fresh snapshot. */
  reload() {
    this.store.invalidate();
    if (this.ws) this.ws.close(4000, "reload");
  }

  isOpen() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  sendRaw(frame) {
    if (!this.isOpen()) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Send a command; resolves with the result's data, rejects with a CommandError. */
  send(type, fields = {}) {
    const frame = makeCommand(type, fields);
    return new Promise((resolve, reject) => {
      const item = { frame, resolve, reject, timer: null, sent: false };
      this.pending.set(frame.cid, item);
      if (this.status === Status.LIVE) this.transmit(item);
    });
  }

  transmit(item) {
    if (!this.sendRaw(item.frame)) return;
    item.sent = true;
    clearTimeout(item.timer);
    item.timer = setTimeout(() => {
      if (!this.pending.has(item.frame.cid)) return;
      if (!this.isOpen()) return; // it is sent again after the reconnection
      this.pending.delete(item.frame.cid);
      item.reject(new CommandError("timeout", "no answer from the server"));
    }, COMMAND_TIMEOUT_MS);
  }

  answered(frame) {
    const item = this.pending.get(frame.cid);
    if (!item) return;
    this.pending.delete(frame.cid);
    clearTimeout(item.timer);
    if (frame.type === "result") {
      if (!item.control) this.store.recordResult(item.frame, frame.data);
      item.resolve(frame.data ?? null);
    } else {
      item.reject(new CommandError(frame.code, frame.message));
    }
  }

  armSilence() {
    clearTimeout(this.silenceTimer);
    const limit = Math.max(2000, this.heartbeatMs * 2.5);
    this.silenceTimer = setTimeout(() => {
      if (this.ws && this.isOpen()) this.ws.close(4001, "silent");
      this.dropped();
    }, limit);
  }

  closed(code) {
    clearTimeout(this.silenceTimer);
    const fatal = FATAL_CLOSE.get(code);
    if (fatal) {
      this.fail(fatal);
      return;
    }
    if (!this.opened) {
      // refused before the handshake completed: signed out, no role here, or the server is away
      fetch("/api/me", { credentials: "same-origin" })
        .then((response) => (response.status === 401 ? this.fail("signed_out") : this.dropped()))
        .catch(() => this.dropped());
      return;
    }
    this.dropped();
  }

  fail(reason) {
    this.stopped = true;
    this.ws = null;
    for (const item of this.pending.values()) item.reject(new CommandError(reason, reason));
    this.pending.clear();
    this.setStatus(Status.CLOSED, { reason });
  }

  dropped() {
    if (this.stopped) return;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(4001, "replaced");
    for (const item of this.pending.values()) {
      clearTimeout(item.timer);
      if (item.control) this.pending.delete(item.frame.cid);
    }
    this.resuming = false;
    clearTimeout(this.retryTimer);
    if (navigator.onLine === false) {
      this.setStatus(Status.OFFLINE);
      return;
    }
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    this.reconnects += 1;
    this.setStatus(Status.RECONNECTING, { attempt: this.attempt, retryInMs: delay });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  wentOffline() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.dropped();
  }

  cameOnline() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    if (!this.isOpen()) {
      this.ws = null;
      this.open();
    }
  }
}
