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
    let table = [(z, 3u32)];
    let mut b = [0u8; 64];
    let n = encode(HEADER, &Message::Proposal(Proposal { epoch: 1, prev: z, commit: z, entries: Entries::from_packed(&table, b"abc") }), &mut b).unwrap();
    let (_, m) = decode(&b[..n], 9, 2, 64).unwrap();
    match m {
        Message::Proposal(p) => {
            let all: heapless::Vec<_, 4> = p.entries.iter().map(|e| e.unwrap()).collect();
            assert_eq!(all.as_slice(), &[(z, &b"abc"[..])]);
        }
        other => panic!("decoded {other:?}"),
    }
    for m in one_of_each(Entries::EMPTY) {
        round_trip(m);
    }
}

/// `entries` held as values (a table and the payloads), encoded by hand as an INFORM.
fn encode_packed(entries: &[(Zxid, &[u8])], buf: &mut [u8]) -> Result<usize, WireError> {
    let table: std::vec::Vec<(Zxid, u32)> = entries.iter().map(|(zxid, p)| (*zxid, p.len() as u32)).collect();
    let data: std::vec::Vec<u8> = entries.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    let p = Proposal { epoch: 2, prev: Zxid::new(1, 0), commit: Zxid::new(1, 2), entries: Entries::from_packed(&table, &data) };
    encode(HEADER, &Message::Inform(p), buf)
}

#[test]
fn hand_encoded_proposal_is_postcard() {
    let entries = [(Zxid::new(1, 1), &b"a"[..]), (Zxid::new(1, 2), &b"bb"[..]), (Zxid::new(2, 300), &[0u8; 200][..])];
    let mut hand = [0u8; 512];
    let n = encode_packed(&entries, &mut hand).unwrap();
    let (_, decoded) = decode(&hand[..n], 9, 2, 512).unwrap();
    let Message::Inform(p) = decoded else { panic!("expected INFORM, got {decoded:?}") };
    assert_eq!((p.epoch, p.prev, p.commit), (2, Zxid::new(1, 0), Zxid::new(1, 2)));
    let got: heapless::Vec<_, 4> = p.entries.iter().map(|e| e.unwrap()).collect();
    assert_eq!(got.as_slice(), &entries);
    // Re-encoding the decoded value with postcard gives the same bytes.
    let mut again = [0u8; 512];
    let m = encode(HEADER, &decoded, &mut again).unwrap();
    assert_eq!(&again[..m], &hand[..n]);
    // So does serde's path for entries held as values.
    let table: std::vec::Vec<(Zxid, u32)> = entries.iter().map(|(zxid, p)| (*zxid, p.len() as u32)).collect();
    let data: std::vec::Vec<u8> = entries.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    let values = Message::Inform(Proposal { entries: Entries::from_packed(&table, &data), ..p });
    let mut serde = [0u8; 512];
    let body = postcard::to_slice(&values, &mut serde).unwrap();
    assert_eq!(&*body, &hand[HEADER_BYTES..n]);
}

#[test]
fn a_run_is_framed_once_and_lone_entries_alone() {
    let (a, b, c) = ([1u8; 4], [2u8; 4], [3u8; 5]);
    // 1:7 and 1:8 of 4 bytes: one run; 1:9 of 5 bytes, 1:11 of 4 bytes and 2:1: runs of one.
    let entries = [(Zxid::new(1, 7), &a[..]), (Zxid::new(1, 8), &b[..]), (Zxid::new(1, 9), &c[..]), (Zxid::new(1, 11), &a[..]), (Zxid::new(2, 1), &a[..])];
    let mut buf = [0u8; 256];
    let n = encode_packed(&entries, &mut buf).unwrap();
    let Message::Inform(p) = decode(&buf[..n], 9, 2, 256).unwrap().1 else { panic!() };
    let wire = p.entries.wire_bytes().unwrap();
    let mut expected = std::vec![1, 7, 4 << 1 | 1, 2, 1, 1, 1, 1, 2, 2, 2, 2];
    expected.extend([1, 9, 5 << 1, 3, 3, 3, 3, 3]);
    expected.extend([1, 11, 4 << 1, 1, 1, 1, 1]);
    expected.extend([2, 1, 4 << 1, 1, 1, 1, 1]);
    assert_eq!(wire, &expected[..]);
    let runs: std::vec::Vec<_> = p.entries.wire_runs().unwrap().map(|r| r.unwrap()).map(|r| (r.first, r.count, r.stride)).collect();
    assert_eq!(runs, [(Zxid::new(1, 7), 2, 4), (Zxid::new(1, 9), 1, 5), (Zxid::new(1, 11), 1, 4), (Zxid::new(2, 1), 1, 4)]);
    // The same entries held as one uniform copy, or by pieces of a table, encode the same.
    let mut data = a.to_vec();
    data.extend_from_slice(&b);
    let uniform = Entries::from_uniform(Zxid::new(1, 7), 4, &data);
    let table = [(Zxid::new(1, 7), 4u32), (Zxid::new(1, 8), 4)];
    let packed = Entries::from_packed(&table, &data);
    assert_eq!(uniform.encoded_len(), 12);
    assert_eq!(packed.encoded_len(), 12);
    let (mut x, mut y) = (std::vec::Vec::new(), std::vec::Vec::new());
    uniform.emit(&mut |s| { x.extend_from_slice(s); true }).unwrap();
    packed.emit(&mut |s| { y.extend_from_slice(s); true }).unwrap();
    assert_eq!(x, &expected[..12]);
    assert_eq!(y, x);
}

/// Every check of the run decoder refuses its case: each case is one check's counterexample.
#[test]
fn malformed_runs_are_refused() {
    let refused = |bytes: &[u8]| {
        let mut it = Entries::from_wire(bytes).iter();
        let all: std::vec::Vec<_> = it.by_ref().collect();
        assert_eq!(all.last(), Some(&Err(MalformedEntries)), "{bytes:?} was taken: {all:?}");
        assert_eq!(it.next(), None);
        let runs: std::vec::Vec<_> = Entries::from_wire(bytes).wire_runs().unwrap().collect();
        assert_eq!(runs.last(), Some(&Err(MalformedEntries)), "{bytes:?} was taken as runs");
    };
    // A good run to start from: 1:7 and 1:8, two bytes each.
    let good = [1, 7, 2 << 1 | 1, 2, 9, 9, 8, 8];
    assert_eq!(Entries::from_wire(&good).iter().count(), 2);
    assert!(Entries::from_wire(&good).iter().all(|e| e.is_ok()));
    // Truncated: a payload byte short, or its count missing.
    refused(&good[..7]);
    refused(&good[..3]);
    // A count of less than two.
    refused(&[1, 7, 2 << 1 | 1, 1, 9, 9]);
    refused(&[1, 7, 2 << 1 | 1, 0]);
    // Entries of no bytes in a run (a batch would hold more entries than bytes).
    refused(&[1, 7, 1, 200, 1]);
    // A run leaving its epoch: counter u32::MAX and one more.
    let mut crossing = std::vec![1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1 << 1 | 1, 2, 5, 5];
    refused(&crossing);
    // ... where the last counter of the epoch alone is fine.
    crossing[6] = 1 << 1;
    crossing.remove(7);
    crossing.truncate(8);
    assert_eq!(Entries::from_wire(&crossing).iter().collect::<std::vec::Vec<_>>(), [Ok((Zxid::new(1, u32::MAX), &[5u8][..]))]);
    // A count × length past the end, and one whose product overflows 32 bits.
    refused(&[1, 7, 2 << 1 | 1, 3, 9, 9, 8, 8]);
    let mut huge = std::vec![1, 1];
    let mut put = |v: u64| {
        let mut b = [0u8; 10];
        let end = varint::put(&mut b, 0, v).unwrap();
        huge.extend_from_slice(&b[..end]);
    };
    put(u64::from(u32::MAX) << 1 | 1);
    put(u64::from(u32::MAX - 1));
    refused(&huge);
    // A length above u32::MAX, a count above it.
    let put_all = |values: &[u64]| {
        let mut out = std::vec::Vec::new();
        for &v in values {
            let mut b = [0u8; 10];
            let end = varint::put(&mut b, 0, v).unwrap();
            out.extend_from_slice(&b[..end]);
        }
        out
    };
    refused(&put_all(&[1, 1, (u64::from(u32::MAX) + 1) << 1]));
    refused(&put_all(&[1, 1, 1 << 1 | 1, u64::from(u32::MAX) + 1]));
    // An entry after a good run, truncated: the good run comes out, then the error.
    let mut tail = good.to_vec();
    tail.extend([1, 9, 4 << 1, 1]);
    let all: std::vec::Vec<_> = Entries::from_wire(&tail).iter().collect();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2], Err(MalformedEntries));
}

#[test]
fn a_buffer_too_small_for_the_entries_is_refused() {
    let entries = [(Zxid::new(1, 1), &[1u8; 10][..]), (Zxid::new(1, 2), &[2u8; 10][..]), (Zxid::new(1, 4), &[3u8; 10][..])];
    let mut buf = [0u8; 256];
    let n = encode_packed(&entries, &mut buf).unwrap();
    for len in HEADER_BYTES..n {
        assert_eq!(encode_packed(&entries, &mut buf[..len]), Err(WireError::BufferTooSmall), "{len} bytes");
    }
    assert_eq!(encode_packed(&entries, &mut buf[..n]), Ok(n));
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
        let n = encode_packed(&entries, &mut buf).unwrap();
        prop_assert_eq!(n, encoded_len(&decode(&buf[..n], 9, 2, 1024).unwrap().1));
        let (_, m) = decode(&buf[..n], 9, 2, 1024).unwrap();
        let Message::Inform(p) = m else { panic!("not an inform") };
        let got: std::vec::Vec<(Zxid, &[u8])> = p.entries.iter().map(|e| e.unwrap()).collect();
        prop_assert_eq!(got, entries);
    }
}
