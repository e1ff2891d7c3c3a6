// Baseline for bench/: the same events as medtalk's /ws/chat, relayed by Node's socket.io with no
// database, no encryption and no auth check beyond "a token is present". What a team would have
// if it picked Node and skipped persistence: the relay cost alone.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT || 8090);
const httpServer = createServer();
const io = new Server(httpServer, { perMessageDeflate: false });
const chat = io.of("/ws/chat");
let seq = 0;

chat.use((socket, next) => (socket.handshake.auth?.token ? next() : next(new Error("no token"))));
chat.on("connection", (socket) => {
  socket.on("join_conversation", (data, ack) => {
    socket.join(`conversation:${data.conversationId}`);
    ack?.({ conversationId: data.conversationId, joined: true, replayed: 0 });
  });
  socket.on("send_message", (data, ack) => {
    seq += 1;
    const message = {
      messageId: `${seq}`, conversationId: data.conversationId, seq, senderId: "x",
      content: data.content, contentType: "TEXT", sentAt: new Date().toISOString(),
    };
    chat.to(`conversation:${data.conversationId}`).emit("message_received", message);
    ack?.({ messageId: message.messageId, seq, sentAt: message.sentAt, status: "SENT" });
  });
});
httpServer.listen(port, "127.0.0.1", () => console.log(`baseline listening on ${port}`));
