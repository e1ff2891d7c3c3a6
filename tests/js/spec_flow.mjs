// The spec's "Client -> Server Events" code, unchanged but for the URL and the token, run by
// node with the official socket.io-client. Prints one JSON line with what each side received.
// Usage: MEDTALK_URL=ws://127.0.0.1:8089 PATIENT_TOKEN=.. DOCTOR_TOKEN=.. CONVERSATION_ID=.. node spec_flow.mjs
import { io } from "socket.io-client";

const base = process.env.MEDTALK_URL;
const conversationId = process.env.CONVERSATION_ID;
const timeout = setTimeout(() => finish(1, "timed out"), 15000);
const seen = { patient: {}, doctor: {} };

function connect(who, jwt) {
  // As in the spec: io('wss://api.healthai.com/ws/chat', { auth: { token: 'Bearer <JWT_TOKEN>' } })
  const socket = io(`${base}/ws/chat`, {
    auth: {
      token: `Bearer ${jwt}`
    }
  });
  for (const event of ["message_received", "message_read", "typing_start", "typing_stop"]) {
    socket.on(event, (data) => {
      (seen[who][event] ||= []).push(data);
      step();
    });
  }
  socket.on("connect_error", (err) => finish(1, `${who} connect_error: ${err.message}`));
  return socket;
}

function once(socket, event) {
  return new Promise((resolve) => socket.once(event, resolve));
}

function finish(code, error) {
  clearTimeout(timeout);
  console.log(JSON.stringify({ ok: code === 0, error, seen }));
  process.exit(code);
}

const patient = connect("patient", process.env.PATIENT_TOKEN);
const doctor = connect("doctor", process.env.DOCTOR_TOKEN);
await Promise.all([once(patient, "connect"), once(doctor, "connect")]);

// Join conversation (acknowledged, so we know both are in before sending)
await patient.emitWithAck("join_conversation", { conversationId: conversationId });
await doctor.emitWithAck("join_conversation", { conversationId: conversationId });

// Send message (exactly as the spec writes it: no acknowledgement callback)
patient.emit("send_message", {
  conversationId: conversationId,
  content: "Hello doctor",
  contentType: "TEXT"
});

let stage = 0;
function step() {
  const got = seen.doctor.message_received?.find((m) => m.content === "Hello doctor");
  if (stage === 0 && got) {
    stage = 1;
    // Typing indicator
    doctor.emit("typing_start", { conversationId: conversationId });
    doctor.emit("typing_stop", { conversationId: conversationId });
    // Mark as read
    doctor.emit("mark_read", { messageId: got.messageId });
  }
  if (stage === 1 && seen.patient.message_read && seen.patient.typing_start && seen.patient.typing_stop) {
    stage = 2;
    patient.close();
    doctor.close();
    finish(0, null);
  }
}
