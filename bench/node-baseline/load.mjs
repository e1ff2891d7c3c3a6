// The second load client of bench/chatload.py: the official socket.io-client 4, the client real
// browsers and apps use, driven the way the spec's client code does it (io(url, {auth}), both
// sides join the conversation, emit with acknowledgement). bench/chatload.py creates the users
// and conversations, then runs: node load.mjs <config.json>
// config: {url, namespace, pairs: [{conversationId, patientToken, doctorToken, patientSource?,
//   doctorSource?}], rates, seconds}
// Prints one JSON line per event: {"event": "ready", polling} (sockets not upgraded), {"event": "step-start", rate} (the parent
// samples server CPU there), {"event": "step", ...results} (then waits for a line on stdin, sent
// once the parent has looked at the outbox); stops at the first saturated step.
import { readFileSync } from "node:fs";
import { Agent } from "node:http";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
// The parent answers each step with a line once it has looked at the outbox.
const parent = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const sentAt = new Map();
let latencies = [];

function connect(token, onMessage, source) {
  const socket = io(`${config.url}${config.namespace}`, {
    auth: { token: `Bearer ${token}` },
    reconnection: false,
    timeout: 60000,
    // A loopback source address (127.0.0.x): a cluster's nginx, or `serve --workers`, picks
    // the node by it. Both transports must come from it, as a browser's do: engine.io-client
    // hands `localAddress` to the websocket only, so long-polling (the handshake) would come
    // from 127.0.0.1, reach another node, and the upgrade would fail (the socket then stays
    // on polling). An agent bound to the address is used by both.
    ...(source ? { localAddress: source, agent: new Agent({ keepAlive: true, localAddress: source }) } : {}),
  });
  if (onMessage) socket.on("message_received", onMessage);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error) => reject(error));
  });
}

function received(message) {
  const started = sentAt.get(message.content);
  if (started !== undefined) {
    sentAt.delete(message.content);
    latencies.push(performance.now() - started);
  }
}

const pairs = [];
for (const pair of config.pairs) {
  const patient = await connect(pair.patientToken, null, pair.patientSource);
  const doctor = await connect(pair.doctorToken, received, pair.doctorSource);
  // Both sides join, as the spec's client does (each message then reaches two sockets).
  await patient.emitWithAck("join_conversation", { conversationId: pair.conversationId });
  await doctor.emitWithAck("join_conversation", { conversationId: pair.conversationId });
  pairs.push({ ...pair, patient, doctor });
}
// The spec's client starts on long-polling and upgrades to a websocket: measure once every
// socket has upgraded, and say how many did not (the parent refuses to measure polling).
const sockets = pairs.flatMap((pair) => [pair.patient, pair.doctor]);
const onPolling = () => sockets.filter((socket) => socket.io.engine.transport.name !== "websocket").length;
const upgradeBy = performance.now() + 5000;
while (onPolling() && performance.now() < upgradeBy) await new Promise((resolve) => setTimeout(resolve, 50));
say({ event: "ready", polling: onPolling() });

const pct = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * sorted.length) - 1))] : null;
const round = (ms) => (ms === null ? null : Math.round(ms * 100) / 100);

async function step(rate, seconds) {
  latencies = [];
  sentAt.clear();
  const acks = [];
  let sent = 0, acked = 0, errors = 0;
  const pending = new Set();
  const send = (pair, content) => {
    const started = performance.now();
    sentAt.set(content, started);
    const done = pair.patient
      .timeout(30000)
      .emitWithAck("send_message", { conversationId: pair.conversationId, content, contentType: "TEXT" })
      .then((ack) => {
        if (ack && ack.error) errors += 1;
        else { acked += 1; acks.push(performance.now() - started); }
      })
      .catch(() => { errors += 1; })
      .finally(() => pending.delete(done));
    pending.add(done);
  };
  const began = performance.now();
  let budget = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      budget += rate * 0.01;
      while (budget >= 1) {
        budget -= 1;
        send(pairs[sent % pairs.length], `n${rate}-${sent}`);
        sent += 1;
      }
      if (performance.now() - began >= seconds * 1000) { clearInterval(timer); resolve(); }
    }, 10);
  });
  const elapsed = (performance.now() - began) / 1000;
  const drainUntil = performance.now() + 5000;
  while ((pending.size || sentAt.size) && performance.now() < drainUntil) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const lat = [...latencies].sort((a, b) => a - b);
  const ackLat = acks.sort((a, b) => a - b);
  return {
    offered_per_s: rate, sent, acked, delivered: lat.length, errors,
    delivered_per_s: Math.round((lat.length / elapsed) * 10) / 10,
    p50_ms: round(pct(lat, 50)), p95_ms: round(pct(lat, 95)), p99_ms: round(pct(lat, 99)),
    max_ms: round(lat.length ? lat[lat.length - 1] : null),
    ack_p50_ms: round(pct(ackLat, 50)), ack_p99_ms: round(pct(ackLat, 99)),
    unanswered: sent - acked - errors,
  };
}

await step(100, 2); // warm-up, not reported
for (const rate of config.rates) {
  say({ event: "step-start", rate });
  const result = await step(rate, config.seconds);
  say({ event: "step", ...result });
  await parent.next();
  if (result.delivered_per_s < 0.9 * rate || (result.p99_ms ?? Infinity) > 1000) break;
}
for (const pair of pairs) { pair.patient.close(); pair.doctor.close(); }
say({ event: "done" });
process.exit(0);
