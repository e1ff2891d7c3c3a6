// Wire shapes of the medtalk API (camelCase, as src/medtalk/chat/schemas.py and the call contract).

export type ContentType = "TEXT" | "IMAGE" | "FILE" | "AUDIO" | "VIDEO" | "CALL";

export interface LastMessage {
  messageId: string;
  senderId: string;
  content: string;
  contentType: ContentType;
  sentAt: string;
  isRead: boolean;
}

export interface ConversationSummary {
  id: string;
  doctorId: string;
  doctorName: string;
  patientId: string;
  patientName: string;
  status: "ACTIVE" | "ARCHIVED" | "CLOSED";
  createdAt: string;
  lastMessage: LastMessage | null;
  unreadCount: number;
  lastSeq: number;
}

export interface ConversationList {
  total: number;
  conversations: ConversationSummary[];
}

export interface Message {
  id: string;
  messageId: string;
  conversationId: string;
  seq: number;
  senderId: string;
  senderType: string;
  content: string;
  contentType: ContentType;
  sentAt: string;
  isRead: boolean;
  readAt?: string | null;
  clientMessageId?: string | null;
  fileName?: string | null;
  fileSize?: number | null;
  fileUrl?: string | null;
  thumbnailUrl?: string | null;
  durationSeconds?: number | null; // AUDIO and VIDEO
}

export interface MessagePage {
  messages: Message[];
  hasMore: boolean;
}

export interface MessageSent {
  messageId: string;
  conversationId: string;
  seq: number;
  sentAt: string;
}

export interface ReadReceipt {
  messageId: string;
  conversationId: string;
  readerId: string;
  upToSeq: number;
  readAt: string;
}

export interface Typing {
  conversationId: string;
  userId: string;
  userName: string;
}

export interface FileUploaded {
  messageId: string;
  fileUrl: string;
  fileName: string;
  fileSize: number;
}

// --- calls (/work/notes/call-contract.md) ---------------------------------------------------

export interface RoomCreated {
  roomId: string;
  roomName: string;
  joinUrl: string;
  status: string;
  conversationId: string | null;
  provider: string;
}

export interface TurnServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface RoomToken {
  accessToken: string;
  joinUrl: string;
  provider: string;
  roomName: string;
  configuration: { stunServers: string[]; turnServers: TurnServer[] };
}

export interface Participant {
  userId: string;
  name: string;
  role: string;
  isVideoOn: boolean;
  isAudioOn: boolean;
  admitted?: boolean; // false: in the waiting room (issue 17)
}

export interface JoinResult {
  participants: Participant[];
  status: "WAITING" | "IN_PROGRESS" | "ENDED" | "CANCELLED";
  startedAt?: string | null;
  admitted?: boolean; // false: the caller waits until the host admits them
}

export interface CallIncoming {
  roomId: string;
  roomName: string;
  conversationId: string | null;
  callerId: string;
  callerName: string;
  joinUrl: string;
}

export interface CallEnded {
  roomId: string;
  duration: number | null;
  endedAt: string;
  reason: string;
}

export interface Signal {
  roomId: string;
  fromUserId: string;
  sdp?: RTCSessionDescriptionInit;
  candidate?: RTCIceCandidateInit;
}
