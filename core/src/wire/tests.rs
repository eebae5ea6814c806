use super::*;
use proptest::prelude::*;

const HEADER: Header = Header { cluster_id: 9, from: 1, to: 2 };

/// One message of every kind (a PROPOSAL carrying `proposal_entries`), for the tests of each
/// form a message takes.
pub(super) fn one_of_each(proposal_entries: Entries<'_>) -> [Message<'_>; 22] {
    let z = Zxid::new(3, 4);
    let vote = Vote { leader: 3, zxid: z, epoch: 2, connected: true };
    [
        Message::Notification { round: 7, state: PeerState::Looking, vote, membership: Zxid::new(2, 5) },
        Message::FollowerInfo { accepted_epoch: 5, exchange: u64::MAX },
        Message::LeaderInfo { epoch: 6, exchange: 7 << 32 | 1 },
        Message::AckEpoch { epoch: 6, exchange: 7 << 32 | 1, current_epoch: 5, last: z, promised: true },
        Message::Trunc { epoch: 6, exchange: 3, to: z },
        Message::Proposal(Proposal { epoch: 6, prev: z, commit: z, entries: proposal_entries }),
        Message::NewLeader { epoch: 6, exchange: 3, last: z },
        Message::Ack { epoch: 6, exchange: 3, zxid: z },
        Message::Commit { epoch: 6, zxid: z },
        Message::Heartbeat { epoch: 6, commit: z },
        Message::SyncState { epoch: 6, exchange: 3, last: z },
        Message::SnapChunk(SnapChunk { epoch: 6, exchange: 3, index: 9, zxid: z, offset: 0, total: 3, data: Bytes(b"xyz") }),
        Message::SnapAck { epoch: 6, exchange: 3, index: 9, offset: 3 },
        Message::Forward { epoch: 6, exchange: 9 << 32 | 2, seq: 3, payload: Bytes(b"hello") },
        Message::Inform(Proposal { epoch: 6, prev: z, commit: z, entries: Entries::EMPTY }),
        Message::ReadRequest { epoch: 6, id: 4, linearizable: true },
        Message::ReadReply { epoch: 6, id: 4, zxid: z },
        Message::ReadProbe { epoch: 6, round: 9 },
        Message::ReadProbeAck { epoch: 6, round: 9 },
        Message::Handover { epoch: 6, to: 2 },
        Message::Fetch { epoch: 6, exchange: 7 << 32 | 1, from: Zxid::new(2, 9), to: z },
        Message::Fetched { epoch: 6, exchange: 7 << 32 | 1, prev: Zxid::new(2, 9), entries: proposal_entries },
    ]
}

fn round_trip(message: Message<'_>) {
    let mut buf = [0u8; 512];
    let n = encode(HEADER, &message, &mut buf).unwrap();
    let (header, decoded) = decode(&buf[..n], 9, 2, 512).unwrap();
    assert_eq!(header, HEADER);
    assert_eq!(decoded, message);
}

#[test]
fn every_message_kind_round_trips() {
    let z = Zxid::new(3, 4);
    let entries_bytes = {
        let mut b = [0u8; 64];
        let (n, _) = encode_proposal(HEADER, TAG_PROPOSAL, (1, z, z), usize::MAX, &mut [(z, &b"abc"[..])].into_iter(), &mut b).unwrap();
        let (_, m) = decode(&b[..n], 9, 2, 64).unwrap();
        match m {
            Message::Proposal(p) => {
                let all: heapless::Vec<_, 4> = p.entries.iter().map(|e| e.unwrap()).collect();
                assert_eq!(all.as_slice(), &[(z, &b"abc"[..])]);
            }
            other => panic!("decoded {other:?}"),
        }
        b
    };
    let _ = entries_bytes;
    for m in one_of_each(Entries::EMPTY) {
        round_trip(m);
    }
}

#[test]
fn hand_encoded_proposal_is_postcard() {
    let entries = [(Zxid::new(1, 1), &b"a"[..]), (Zxid::new(1, 2), &b"bb"[..]), (Zxid::new(2, 300), &[0u8; 200][..])];
    let mut hand = [0u8; 512];
    let (n, count) = encode_proposal(HEADER, TAG_INFORM, (2, Zxid::new(1, 0), Zxid::new(1, 2)), usize::MAX, &mut entries.iter().copied(), &mut hand).unwrap();
    assert_eq!(count, 3);
    let (_, decoded) = decode(&hand[..n], 9, 2, 512).unwrap();
    let Message::Inform(p) = decoded else { panic!("expected INFORM, got {decoded:?}") };
    assert_eq!((p.epoch, p.prev, p.commit), (2, Zxid::new(1, 0), Zxid::new(1, 2)));
    let got: heapless::Vec<_, 4> = p.entries.iter().map(|e| e.unwrap()).collect();
    assert_eq!(got.as_slice(), &entries);
    // Re-encoding the decoded value with postcard gives the same bytes.
    let mut again = [0u8; 512];
    let m = encode(HEADER, &decoded, &mut again).unwrap();
    assert_eq!(&again[..m], &hand[..n]);
}

#[test]
fn a_proposal_carries_only_what_fits_its_budget() {
    let entries = [(Zxid::new(1, 1), &[1u8; 10][..]), (Zxid::new(1, 2), &[2u8; 10][..]), (Zxid::new(1, 3), &[3u8; 10][..])];
    let one = entry_len(Zxid::new(1, 1), 10);
    let mut buf = [0u8; 256];
    let (n, count) = encode_proposal(HEADER, TAG_PROPOSAL, (1, Zxid::ZERO, Zxid::ZERO), 2 * one + 1, &mut entries.iter().copied(), &mut buf).unwrap();
    assert_eq!(count, 2);
    let (_, m) = decode(&buf[..n], 9, 2, 256).unwrap();
    let Message::Proposal(p) = m else { panic!("{m:?}") };
    assert_eq!(p.entries.iter().count(), 2);
    // A buffer too small for a third entry stops at what fits, too.
    // Header, the fields, the room kept for the length prefix, then two entries.
    let mut small = [0u8; 13 + 6 + 5 + 2 * 13];
    let (_, count) = encode_proposal(HEADER, TAG_PROPOSAL, (1, Zxid::ZERO, Zxid::ZERO), usize::MAX, &mut entries.iter().copied(), &mut small).unwrap();
    assert_eq!(count, 2);
}

#[test]
fn envelope_checks_refuse_with_typed_errors() {
    let mut buf = [0u8; 64];
    let n = encode(HEADER, &Message::LeaderInfo { epoch: 1, exchange: 1 }, &mut buf).unwrap();
    let good = &buf[..n];
    assert_eq!(decode(&good[..5], 9, 2, 64), Err(WireError::TooShort));
    assert_eq!(decode(good, 8, 2, 64), Err(WireError::WrongCluster(9)));
    assert_eq!(decode(good, 9, 3, 64), Err(WireError::WrongReceiver(2)));
    assert_eq!(decode(good, 9, 2, n - 1), Err(WireError::Oversized(n)));
    let mut v = buf;
    v[0] = VERSION + 1;
    assert_eq!(decode(&v[..n], 9, 2, 64), Err(WireError::UnknownVersion(VERSION + 1)));
    let mut c = buf;
    c[n - 1] ^= 0x40;
    assert_eq!(decode(&c[..n], 9, 2, 64), Err(WireError::BadChecksum));
    // A valid checksum over a body that does not decode.
    let mut m = [0u8; 32];
    m[HEADER_BYTES] = 200; // no such variant
    let len = HEADER.write(&mut m, 1).unwrap();
    assert_eq!(decode(&m[..len], 9, 2, 64), Err(WireError::Malformed));
    assert_eq!(encode(HEADER, &Message::LeaderInfo { epoch: 1, exchange: 1 }, &mut [0u8; 14]), Err(WireError::BufferTooSmall));
}

#[test]
fn malformed_entries_stop_the_iterator_with_an_error() {
    let bad = Entries::from_wire(&[1, 1, 9, 0]);
    let mut it = bad.iter();
    assert_eq!(it.next(), Some(Err(MalformedEntries)));
    assert_eq!(it.next(), None);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok((_, Message::Proposal(p) | Message::Inform(p))) = decode(&bytes, 9, 2, 512) {
            for entry in p.entries.iter() { let _ = entry; }
        }
    }

    #[test]
    fn arbitrary_bodies_with_valid_checksums_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut buf = [0u8; 256];
        buf[HEADER_BYTES..HEADER_BYTES + body.len()].copy_from_slice(&body);
        let n = HEADER.write(&mut buf, body.len()).unwrap();
        if let Ok((_, Message::Proposal(p) | Message::Inform(p))) = decode(&buf[..n], 9, 2, 512) {
            for entry in p.entries.iter() { let _ = entry; }
        }
    }

    #[test]
    fn proposals_round_trip(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8), epoch in 1u32..1000) {
        let entries: std::vec::Vec<(Zxid, &[u8])> = payloads.iter().enumerate().map(|(i, p)| (Zxid::new(epoch, i as u32 + 1), p.as_slice())).collect();
        let mut buf = [0u8; 1024];
        let (n, count) = encode_proposal(HEADER, TAG_PROPOSAL, (epoch, Zxid::ZERO, Zxid::ZERO), usize::MAX, &mut entries.iter().copied(), &mut buf).unwrap();
        prop_assert_eq!(count, entries.len());
        let (_, m) = decode(&buf[..n], 9, 2, 1024).unwrap();
        let Message::Proposal(p) = m else { panic!("not a proposal") };
        let got: std::vec::Vec<(Zxid, &[u8])> = p.entries.iter().map(|e| e.unwrap()).collect();
        prop_assert_eq!(got, entries);
    }
}
