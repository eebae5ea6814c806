// Just enough of the wire format to label messages in the visualizer: the envelope is 13 bytes
// (version, cluster id, from, to, checksum), then the postcard body, whose first byte is the
// message's variant index (core/src/wire/message.rs; the order is append-only).
export const KINDS = [
  "NOTIFICATION", "FOLLOWERINFO", "LEADERINFO", "ACKEPOCH", "TRUNC", "PROPOSAL", "NEWLEADER",
  "ACK", "COMMIT", "HEARTBEAT", "SYNCSTATE", "SNAP", "SNAPACK", "FORWARD", "INFORM",
];
const HEADER = 13;

export function messageKind(bytes) {
  return bytes.length > HEADER ? KINDS[bytes[HEADER]] ?? "?" : "?";
}

/** Colours per message family, shared by both modes of the visualizer. */
export function kindColor(kind) {
  switch (kind) {
    case "NOTIFICATION": return "#e0a030";
    case "FOLLOWERINFO": case "LEADERINFO": case "ACKEPOCH": case "NEWLEADER": return "#b070e0";
    case "TRUNC": case "SYNCSTATE": case "SNAP": case "SNAPACK": return "#e06090";
    case "PROPOSAL": case "INFORM": case "FORWARD": return "#40b0f0";
    case "ACK": return "#50d080";
    case "COMMIT": return "#f0f050";
    case "HEARTBEAT": return "#808890";
    default: return "#ffffff";
  }
}
