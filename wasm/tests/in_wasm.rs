//! Tests that run inside wasm (wasm-bindgen-test, with node as the runner): the JS-facing API
//! called from Rust with JS values, as JS would call it.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;
use zaxos_wasm::JsNode;

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn ids(ids: &[u16]) -> JsValue {
    ids.iter().map(|&i| JsValue::from(i)).collect::<Array>().into()
}

fn config(id: u16, voters: &[u16]) -> JsValue {
    object(&[("id", id.into()), ("voters", ids(voters)), ("seed", 3.into())])
}

fn code(error: &JsValue) -> String {
    assert!(error.is_instance_of::<js_sys::Error>(), "thrown value is an Error");
    get(error, "code").as_string().unwrap_or_default()
}

#[wasm_bindgen_test]
fn a_three_node_cluster_commits_through_the_js_api() {
    let voters = [1u16, 2, 3];
    let mut nodes: Vec<JsNode> = voters.iter().map(|&id| JsNode::new(config(id, &voters), JsValue::UNDEFINED).unwrap()).collect();
    let mut applied: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 3];
    let mut proposed = 0;
    for _ in 0..300 {
        let mut wire = Vec::new();
        for (i, node) in nodes.iter_mut().enumerate() {
            node.tick();
            if node.is_leader() && proposed < 5 {
                let payload = Uint8Array::from(&[proposed as u8; 4][..]);
                let result = node.propose(payload.into()).unwrap();
                assert_eq!(get(&result, "kind").as_string().as_deref(), Some("local"));
                proposed += 1;
            }
            for write in node.take_writes().iter() {
                node.durable(get(&write, "seq")).unwrap();
            }
            for message in node.take_messages().iter() {
                wire.push((get(&message, "to").as_f64().unwrap() as usize, get(&message, "bytes")));
            }
            for commit in node.take_commits().iter() {
                assert_eq!(get(&commit, "kind").as_string().as_deref(), Some("entry"));
                applied[i].push(get(&commit, "payload").unchecked_into::<Uint8Array>().to_vec());
            }
        }
        for (to, bytes) in wire {
            if let Err(e) = nodes[to - 1].step(bytes) {
                assert!(!code(&e).is_empty());
            }
        }
    }
    let want: Vec<Vec<u8>> = (0..5u8).map(|p| vec![p; 4]).collect();
    for log in &applied {
        assert_eq!(log, &want);
    }
    let leaders = nodes.iter().filter(|n| n.role().as_string().as_deref() == Some("leading")).count();
    assert_eq!(leaders, 1);
    for node in &nodes {
        assert_eq!(node.commit_index(), 5.0);
        assert_eq!(get(&node.commit_zxid(), "counter").as_f64(), Some(5.0));
    }
}

#[wasm_bindgen_test]
fn errors_are_error_objects_with_their_code() {
    let e = JsNode::new(JsValue::from(7), JsValue::UNDEFINED).err().unwrap();
    assert_eq!(code(&e), "BAD_ARGUMENT");
    assert_eq!(get(&e, "argument").as_string().as_deref(), Some("config"));
    let e = JsNode::new(config(5, &[1, 2, 3]), JsValue::UNDEFINED).err().unwrap();
    assert_eq!(code(&e), "BAD_CONFIG");
    assert_eq!(get(&e, "reason").as_string().as_deref(), Some("self_not_member"));

    let mut node = JsNode::new(config(1, &[1, 2, 3]), JsValue::UNDEFINED).unwrap();
    assert_eq!(code(&node.step(JsValue::from_str("bytes")).unwrap_err()), "BAD_ARGUMENT");
    assert_eq!(code(&node.step(Uint8Array::new_with_length(3).into()).unwrap_err()), "BAD_MESSAGE");
    assert_eq!(code(&node.propose(Uint8Array::new_with_length(3).into()).unwrap_err()), "NO_LEADER");
    let e = node.propose(Uint8Array::new_with_length(100_000).into()).unwrap_err();
    assert_eq!(code(&e), "TOO_LARGE");
    assert_eq!(get(&e, "len").as_f64(), Some(100_000.0));
    assert_eq!(code(&node.durable(JsValue::from(-1)).unwrap_err()), "BAD_ARGUMENT");
    assert_eq!(code(&node.durable(JsValue::from(0.5)).unwrap_err()), "BAD_ARGUMENT");
    let counters = node.counters();
    assert_eq!(get(&counters, "undecodable").as_f64(), Some(1.0));
}

#[wasm_bindgen_test]
fn a_restart_from_durable_state_restores_the_snapshot_and_entries() {
    let zxid = |epoch: u32, counter: u32| object(&[("epoch", epoch.into()), ("counter", counter.into())]);
    let entry = |counter: u32| object(&[("zxid", zxid(1, counter)), ("payload", Uint8Array::from(&b"e"[..]).into())]);
    let durable = object(&[
        ("snapshot", object(&[("index", 2.into()), ("zxid", zxid(1, 2)), ("data", Uint8Array::from(&b"snap"[..]).into())])),
        ("entries", [entry(3), entry(4)].iter().collect::<Array>().into()),
    ]);
    let mut node = JsNode::new(config(1, &[1, 2, 3]), durable).unwrap();
    assert_eq!(node.last_index(), 4.0);
    assert_eq!(get(&node.last_zxid(), "counter").as_f64(), Some(4.0));
    let commits = node.take_commits();
    assert_eq!(commits.length(), 1);
    assert_eq!(get(&commits.get(0), "kind").as_string().as_deref(), Some("snapshot"));
    assert!(node.entry(JsValue::from(2)).unwrap().is_undefined());
    assert_eq!(get(&node.entry(JsValue::from(3)).unwrap(), "index").as_f64(), Some(3.0));

    let unordered = object(&[("entries", [entry(4), entry(3)].iter().collect::<Array>().into())]);
    let e = JsNode::new(config(1, &[1, 2, 3]), unordered).err().unwrap();
    assert_eq!(code(&e), "BAD_ARGUMENT");
}

#[cfg(feature = "sim")]
#[wasm_bindgen_test]
fn the_simulation_class_runs_the_kernel_simulator_with_the_options_given() {
    use zaxos::sim::{Options, Simulation};
    use zaxos_wasm::JsSimulation;

    let options = object(&[("seed", 5.into()), ("ticks", 1500.into()), ("voters", 3.into()), ("compactEvery", 30.into())]);
    let mut sim = JsSimulation::new(options).unwrap();
    let report = sim.run_to_end();
    let direct = Simulation::new(Options { seed: 5, ticks: 1500, voters: 3, compact_every: 30, ..Options::default() }).run();
    assert_eq!(get(&report, "logHash").as_string().unwrap(), format!("{:016x}", direct.log_hash));
    assert_eq!(get(&report, "committed").as_f64(), Some(direct.committed as f64));
    assert_eq!(get(&report, "messages").as_f64(), Some(direct.messages as f64));
    assert_eq!(get(&report, "violations").unchecked_into::<Array>().length(), 0);
    assert!(direct.committed > 0);

    let e = JsSimulation::new(object(&[("seed", 1.into()), ("voters", 12.into())])).err().unwrap();
    assert_eq!(code(&e), "BAD_ARGUMENT");
}

/// The `seq` of the last record of a `takeWritesPacked` buffer (layout in `node/packed.rs`).
#[cfg(feature = "packed")]
fn last_packed_write_seq(buf: &[u8]) -> u64 {
    let u32_at = |at: usize| u32::from_le_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(buf[at..at + 8].try_into().unwrap());
    let (mut at, mut seq) = (0, 0);
    while at < buf.len() {
        seq = u64_at(at);
        let kind = buf[at + 8];
        at += 9;
        at += match kind {
            0 => 10,
            1 => {
                let (first, last) = (u64_at(at), u64_at(at + 8));
                at += 16;
                for _ in first..=last {
                    at += 12 + u32_at(at + 8);
                }
                0
            }
            2 => 8,
            _ => 21 + u32_at(at + 17),
        };
    }
    seq
}

/// A host that uses only the packed methods, from the node's start on, elects a leader and
/// every node applies what it proposed, in order: the start's own writes (the incarnation, to
/// be made durable before the node votes for itself) come out of `takeWritesPacked` too.
#[cfg(feature = "packed")]
#[wasm_bindgen_test]
fn a_three_node_cluster_commits_through_the_packed_methods_alone() {
    let voters = [1u16, 2, 3];
    let mut nodes: Vec<JsNode> = voters.iter().map(|&id| JsNode::new(config(id, &voters), JsValue::UNDEFINED).unwrap()).collect();
    let mut applied: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 3];
    let payloads: Vec<u8> = (0..5u8).flat_map(|p| [p; 4]).collect();
    let mut proposed = false;
    for _ in 0..300 {
        let mut wire = Vec::new();
        for (i, node) in nodes.iter_mut().enumerate() {
            node.tick_packed();
            if node.is_leader() && !proposed {
                assert_eq!(node.propose_packed(&payloads, 4).unwrap(), 5);
                proposed = true;
            }
            if let Some(writes) = node.take_writes_packed() {
                node.durable_packed(last_packed_write_seq(&writes.to_vec()) as f64);
            }
            if let Some(messages) = node.take_messages_packed() {
                wire.push(messages.to_vec());
            }
            if let Some(commits) = node.take_commits_packed() {
                let commits = commits.to_vec();
                let mut at = 0;
                while at < commits.len() {
                    let len = u32::from_le_bytes(commits[at + 17..at + 21].try_into().unwrap()) as usize;
                    assert_eq!(commits[at], 0, "an entry");
                    applied[i].push(commits[at + 21..at + 21 + len].to_vec());
                    at += 21 + len;
                }
            }
        }
        for buf in &wire {
            for node in nodes.iter_mut() {
                node.step_packed(buf).unwrap();
            }
        }
    }
    assert!(proposed, "a leader was elected");
    let want: Vec<Vec<u8>> = (0..5u8).map(|p| vec![p; 4]).collect();
    for log in &applied {
        assert_eq!(log, &want);
    }
}
