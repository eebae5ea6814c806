// What each number in "Refused and counted" means, and whether a healthy cluster shows it. Keys
// are the counter's path in `host.counters()` (peer mode) or the simulator's fault counts; the
// page shows every non-zero counter with its line here (an unknown one says so).
//
// normal: "yes" — expected on a healthy cluster; "faults" — expected after a crash, a cut link,
// a reload or the simulator's faults; "no" — a bug or a hostile peer.
const K = (normal, text) => ({ normal, text });

export const EXPLAIN = {
  // The kernel's own counts of messages it refused (node.counters).
  "kernel.undecodable": K("no", "kernel frames that are not envelopes (malformed, truncated, bad checksum)"),
  "kernel.badVersion": K("no", "envelopes of a wire-format version this build does not speak"),
  "kernel.wrongCluster": K("faults", "messages of another cluster (another room, or an old incarnation of this one)"),
  "kernel.wrongReceiver": K("no", "messages addressed to another node"),
  "kernel.oversized": K("no", "messages over the kernel's size bound"),
  "kernel.unknownSender": K("yes", "messages from a node outside the membership: a tab still joining, or one just removed"),
  "kernel.staleEpoch": K("yes", "messages of an older epoch, still in flight after a leader change"),
  "kernel.unexpected": K("yes", "messages that do not fit this node's role or stage right now (a learner's ack after it was re-synced, an election vote while following); harmless"),
  "kernel.duplicate": K("yes", "messages with nothing new: retransmissions and heartbeats that repeat what is known"),
  "kernel.busy": K("faults", "messages refused while queues or storage were full; the sender retransmits"),
  "kernel.conflict": K("no", "messages that would have changed committed history (refused: nothing committed is ever lost)"),
  "kernel.proposeBusy": K("faults", "proposals refused because the history or write queue was full (the board retries)"),
  "kernel.forwardDropped": K("faults", "proposals forwarded to a leader that could not take them (the board retries)"),
  "kernel.eventsDropped": K("no", "events the page did not drain in time"),
  "kernel.otherExchange": K("faults", "messages of another sync handshake: late, duplicated or replayed after a re-sync or restart; refused so they cannot undo a later sync"),
  "kernel.implausible": K("no", "messages with a field no correct peer sends (forged or corrupted): refused"),
  "kernel.sendsDropped": K("faults", "messages not queued for sending because the outbox was full"),
  // step() errors, by code: the same refusals as above, as the page saw them.
  "refused.UNEXPECTED": K("yes", "step() refusals: a message that does not fit the role or stage (see kernel.unexpected)"),
  "refused.DUPLICATE": K("yes", "step() refusals: nothing new in the message (see kernel.duplicate)"),
  "refused.STALE_EPOCH": K("yes", "step() refusals: an older epoch (see kernel.staleEpoch)"),
  "refused.UNKNOWN_SENDER": K("yes", "step() refusals: a sender outside the membership (a tab joining or removed)"),
  "refused.BAD_MESSAGE": K("no", "step() refusals: bytes that are not a kernel message"),
  "refused.BUSY": K("faults", "step() refusals: queues full; the sender retransmits"),
  "refused.OTHER_EXCHANGE": K("faults", "step() refusals: another sync handshake's message (see kernel.otherExchange)"),
  "refused.IMPLAUSIBLE": K("no", "step() refusals: a field no correct peer sends (see kernel.implausible)"),
  "refused.CONFLICT": K("no", "step() refusals: would change committed history"),
  // Proposals and membership changes the page tried.
  "propose.NO_LEADER": K("faults", "notes proposed while no leader was known (retried every 2.5 s until on the board)"),
  "propose.BUSY": K("faults", "notes refused while queues were full (retried)"),
  "propose.tree_NO_LEADER": K("faults", "tree entries (session open, ping, tick) proposed with no leader; proposed again later"),
  "propose.tree_BUSY": K("faults", "tree entries refused while queues were full; proposed again later"),
  "propose.membership_promote_BUSY": K("yes", "promotions the kernel refused because the observer had not caught up yet, or a change was in flight; retried every 0.5 s"),
  "propose.membership_addObserver_BUSY": K("yes", "additions refused while another membership change was in flight; retried"),
  "propose.membership_remove_BUSY": K("yes", "removals refused while another membership change was in flight; retried"),
  "propose.QUEUE_FULL": K("faults", "notes not queued: over 2,000 waiting"),
  // This tab's transport.
  "transport.data_text_frame": K("no", "text frames on a data channel (only binary frames are sent)"),
  "transport.data_empty": K("no", "empty data-channel frames"),
  "transport.data_too_large": K("no", "data-channel frames over 64 KiB"),
  "transport.data_unknown_type": K("no", "data-channel frames of an unknown type byte"),
  "transport.data_bad_status": K("no", "status frames that are not the sender's JSON status"),
  "transport.signal_stale": K("yes", "answers or candidates for a connection attempt already replaced"),
  "transport.signal_unexpected_offer": K("faults", "offers from the peer that should have waited for ours"),
  "transport.signal_bad_candidate": K("faults", "ICE candidates the browser refused"),
  "transport.signal_failed": K("faults", "offers or answers the browser could not make"),
  "transport.signal_malformed": K("no", "relay messages of a bad shape"),
  "transport.signal_unknown": K("no", "relay messages of an unknown type"),
  "transport.send_backpressure": K("faults", "frames not sent because a channel had 4 MiB waiting"),
  // What the relay refused from this tab.
  "relay.absent": K("yes", "signals to a tab that just left the room"),
  "relay.id_in_use": K("faults", "this tab's id was still held by its previous connection (a reload): retried"),
  "relay.bad_secret": K("no", "the relay refused this tab's claim on an id: another secret holds it"),
  "relay.room_full": K("faults", "the room holds its maximum of members"),
  "relay.rate": K("no", "this tab sent signals faster than the relay allows"),
  // Board and tree.
  unreadableEntries: K("no", "committed entries that are neither notes nor tree entries"),
  // The simulator's fault injection (all on purpose).
  "faults.loss": K("faults", "messages the simulated network lost"),
  "faults.duplicate": K("faults", "messages it delivered twice"),
  "faults.reorder": K("faults", "messages it delivered out of order"),
  "faults.partition": K("faults", "partitions it made"),
  "faults.crash": K("faults", "node crashes (unsynced writes lost)"),
  "faults.tornWrite": K("faults", "torn writes at a crash (part of what was being written reached the disk)"),
  "faults.partialConnectivity": K("faults", "partial-connectivity partitions (some links cut, not all)"),
  "faults.replay": K("faults", "old messages it delivered again (sent at any earlier time)"),
  "faults.forge": K("faults", "messages it delivered with one field made implausible"),
  "faults.compact": K("faults", "snapshots a simulated host took at a random moment"),
  "faults.clockSkew": K("faults", "nodes whose clock it made run faster or slower"),
  violations: K("no", "invariant violations: always 0 unless the kernel is wrong"),
};

/** The explanation of counter `path` ("kernel.duplicate", "tree.badPath", …). */
export function explain(path) {
  if (EXPLAIN[path]) return EXPLAIN[path];
  if (path.startsWith("tree.")) return K("faults", "tree operations refused (ZooKeeper errors such as NodeExists are answers, counted here)");
  if (path.startsWith("propose.membership_")) return K("faults", "membership changes the kernel refused; the leader tries again");
  if (path.startsWith("faults.")) return K("faults", "a fault the simulator injected on purpose");
  return K("?", "no description yet");
}

/** "1 observer", "2 observers". */
export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** A time of day with how long ago it was: "02:31:05 (12 s ago)". */
export function ago(ms, now = Date.now()) {
  if (!Number.isFinite(ms) || ms <= 0) return "–";
  const d = new Date(ms);
  const two = (x) => String(x).padStart(2, "0");
  const s = Math.max(0, Math.round((now - ms) / 1000));
  const rel = s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} (${rel})`;
}
