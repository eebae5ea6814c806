//! The JSON-lines face of the tree (feature `cli`): one operation per line in, one outcome per
//! line out. The schema is documented in the crate's README; the recorded ZooKeeper traces are
//! this schema with the expected outcome under `"expect"`.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{json, Map, Value};

use crate::{Config, CreateMode, Entry, Error, Failure, MultiOp, Op, OpResult, Reply, Stat, Tree, WatchEvent};

/// Replays JSON operations against a [`Tree`], naming sessions by the names the input gives
/// them. Writes get consecutive zxids `epoch << 32 | 1, 2, ...`.
pub struct Replayer {
    tree: Tree,
    epoch: u64,
    counter: u64,
    now_ms: u64,
    ids: BTreeMap<String, u64>,
    names: BTreeMap<u64, (usize, String)>,
    /// JSON lines that did not describe an operation.
    pub malformed_lines: u64,
}

type R<T> = Result<T, String>;

fn field<'a>(v: &'a Value, k: &str) -> R<&'a Value> {
    v.get(k).ok_or_else(|| format!("missing field {k:?}"))
}
fn text<'a>(v: &'a Value, k: &str) -> R<&'a str> {
    field(v, k)?.as_str().ok_or_else(|| format!("field {k:?} is not a string"))
}
fn int(v: &Value, k: &str) -> R<i64> {
    field(v, k)?.as_i64().ok_or_else(|| format!("field {k:?} is not an integer"))
}
fn version(v: &Value) -> R<i32> {
    i32::try_from(int(v, "version")?).map_err(|_| "version out of range".to_string())
}
fn flag(v: &Value, k: &str) -> R<bool> {
    match v.get(k) {
        None => Ok(false),
        Some(b) => b.as_bool().ok_or_else(|| format!("field {k:?} is not a boolean")),
    }
}
fn data(v: &Value) -> R<Vec<u8>> {
    if let Some(hex) = v.get("data_hex") {
        let s = hex.as_str().ok_or("data_hex is not a string")?;
        if s.len() % 2 != 0 {
            return Err("data_hex has an odd length".into());
        }
        return (0..s.len())
            .step_by(2)
            .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()).ok_or_else(|| "bad hex".to_string()))
            .collect();
    }
    match v.get("data") {
        None => Ok(Vec::new()),
        Some(d) => Ok(d.as_str().ok_or("data is not a string")?.as_bytes().to_vec()),
    }
}
fn mode(v: &Value) -> R<CreateMode> {
    Ok(match v.get("mode").and_then(Value::as_str).unwrap_or("persistent") {
        "persistent" => CreateMode::Persistent,
        "ephemeral" => CreateMode::Ephemeral,
        "persistent_sequential" => CreateMode::PersistentSequential,
        "ephemeral_sequential" => CreateMode::EphemeralSequential,
        m => return Err(format!("unknown mode {m:?}")),
    })
}

fn multi_op(v: &Value) -> R<MultiOp> {
    let path = text(v, "path")?.to_string();
    Ok(match text(v, "op")? {
        "create" => MultiOp::Create { path, data: data(v)?, mode: mode(v)? },
        "delete" => MultiOp::Delete { path, version: version(v)? },
        "set_data" => MultiOp::SetData { path, data: data(v)?, version: version(v)? },
        "check" => MultiOp::Check { path, version: version(v)? },
        o => return Err(format!("unknown multi op {o:?}")),
    })
}

fn err(e: Error) -> Value {
    json!({ "err": e.name() })
}

impl Replayer {
    pub fn new(config: Config, epoch: u32) -> Self {
        Replayer {
            tree: Tree::new(config),
            epoch: u64::from(epoch),
            counter: 0,
            now_ms: 0,
            ids: BTreeMap::new(),
            names: BTreeMap::new(),
            malformed_lines: 0,
        }
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    fn name(&self, id: u64) -> Value {
        match self.names.get(&id) {
            Some((_, n)) => Value::String(n.clone()),
            None if id == 0 => Value::Null,
            None => Value::String(format!("0x{id:x}")),
        }
    }

    fn stat(&self, s: &Stat) -> Value {
        json!({
            "czxid": s.czxid, "mzxid": s.mzxid, "pzxid": s.pzxid, "version": s.version,
            "cversion": s.cversion, "aversion": s.aversion,
            "ephemeralOwner": if s.ephemeral_owner == 0 { Value::Null } else { self.name(s.ephemeral_owner) },
            "dataLength": s.data_length, "numChildren": s.num_children,
        })
    }

    fn session(&self, v: &Value) -> R<u64> {
        // An unknown name maps to 0, which is never a session: the tree answers SessionExpired.
        Ok(self.ids.get(text(v, "session")?).copied().unwrap_or(0))
    }

    fn events(&self, events: &[WatchEvent]) -> Value {
        let mut v: Vec<(usize, Value)> = events
            .iter()
            .map(|e| {
                let order = self.names.get(&e.session).map_or(usize::MAX, |(i, _)| *i);
                (order, json!([self.name(e.session), e.kind.name(), e.path]))
            })
            .collect();
        v.sort_by_key(|(order, _)| *order); // stable: each session's events stay in order
        Value::Array(v.into_iter().map(|(_, e)| e).collect())
    }

    /// Replay one JSON line. A header line (`{"header": {...}}`) configures session timeout
    /// bounds and the zxid epoch and gives no output; every other line gives one outcome object.
    pub fn step(&mut self, line: &Value) -> Option<Value> {
        if let Some(h) = line.get("header") {
            if self.counter == 0 {
                if let Some(e) = h.get("epoch").and_then(Value::as_u64) {
                    self.epoch = u64::from(u32::try_from(e).unwrap_or(u32::MAX));
                }
                let mut c = *self.tree.config();
                if let Some(v) = h.get("min_session_timeout_ms").and_then(Value::as_u64) {
                    c.session_timeout_min_ms = u32::try_from(v).unwrap_or(u32::MAX);
                }
                if let Some(v) = h.get("max_session_timeout_ms").and_then(Value::as_u64) {
                    c.session_timeout_max_ms = u32::try_from(v).unwrap_or(u32::MAX);
                }
                self.tree = match h.get("membership").and_then(Value::as_str) {
                    Some(text) => Tree::with_membership(c, text.as_bytes().to_vec()),
                    None => Tree::new(c),
                };
            }
            return None;
        }
        self.now_ms = match line.get("now_ms").and_then(Value::as_u64) {
            Some(t) => t,
            None => self.now_ms + 1,
        };
        Some(match self.op(line) {
            Ok(v) => v,
            Err(detail) => {
                self.malformed_lines += 1;
                json!({ "zxid": self.tree.last_zxid(), "result": { "err": "Malformed", "detail": detail }, "events": [] })
            }
        })
    }

    fn write(&mut self, session: u64, op: Op) -> crate::ApplyResult {
        self.counter += 1;
        let zxid = self.epoch << 32 | self.counter;
        self.tree.apply(zxid, &Entry::new(session, self.now_ms, op).encode())
    }

    fn op(&mut self, v: &Value) -> R<Value> {
        let kind = text(v, "op")?;
        let (result, events) = match kind {
            "open" => {
                let name = text(v, "session")?.to_string();
                if self.ids.contains_key(&name) {
                    return Err(format!("session name {name:?} already used"));
                }
                let timeout_ms = u32::try_from(int(v, "timeout_ms")?).map_err(|_| "timeout_ms out of range")?;
                let r = self.write(0, Op::CreateSession { timeout_ms });
                let result = match &r.outcome {
                    Ok(Reply::Session { id, timeout_ms }) => {
                        self.ids.insert(name.clone(), *id);
                        self.names.insert(*id, (self.names.len(), name));
                        json!({ "ok": { "timeout_ms": timeout_ms } })
                    }
                    other => self.outcome(other),
                };
                (result, r.events)
            }
            "tick" | "close" | "ping" | "create" | "delete" | "set_data" | "multi" => {
                let session = if kind == "tick" { 0 } else { self.session(v)? };
                let op = match kind {
                    "tick" => Op::Tick,
                    "close" => Op::CloseSession,
                    "ping" => Op::Ping,
                    "create" => Op::Create { path: text(v, "path")?.into(), data: data(v)?, mode: mode(v)? },
                    "delete" => Op::Delete { path: text(v, "path")?.into(), version: version(v)? },
                    "set_data" => Op::SetData { path: text(v, "path")?.into(), data: data(v)?, version: version(v)? },
                    _ => Op::Multi {
                        ops: field(v, "ops")?.as_array().ok_or("ops is not an array")?.iter().map(multi_op).collect::<R<_>>()?,
                    },
                };
                let r = self.write(session, op);
                (self.outcome(&r.outcome), r.events)
            }
            "get_data" | "exists" | "get_children" | "sync" => (self.read(kind, v)?, Vec::new()),
            "disconnect" => {
                self.tree.disconnect(self.session(v)?);
                (json!({ "ok": null }), Vec::new())
            }
            o => return Err(format!("unknown op {o:?}")),
        };
        Ok(json!({ "zxid": self.tree.last_zxid(), "result": result, "events": self.events(&events) }))
    }

    fn read(&mut self, kind: &str, v: &Value) -> R<Value> {
        let session = self.session(v)?;
        let path = text(v, "path")?;
        let watch = flag(v, "watch")?;
        Ok(match kind {
            "get_data" => match self.tree.get_data(session, path, watch) {
                Ok((d, s)) => {
                    let d = d.to_vec();
                    let stat = self.stat(&s);
                    match String::from_utf8(d) {
                        Ok(text) => json!({ "ok": { "data": text, "stat": stat } }),
                        Err(e) => {
                            let hex: String = e.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
                            json!({ "ok": { "data_hex": hex, "stat": stat } })
                        }
                    }
                }
                Err(e) => err(e),
            },
            "exists" => match self.tree.exists(session, path, watch) {
                Ok(s) => json!({ "ok": { "stat": s.map(|s| self.stat(&s)) } }),
                Err(e) => err(e),
            },
            "get_children" => match self.tree.get_children(session, path, watch) {
                Ok((children, s)) => json!({ "ok": { "children": children, "stat": self.stat(&s) } }),
                Err(e) => err(e),
            },
            _ => match self.tree.sync(session, path) {
                Ok(p) => json!({ "ok": { "path": p } }),
                Err(e) => err(e),
            },
        })
    }

    fn outcome(&self, o: &Result<Reply, Failure>) -> Value {
        match o {
            Ok(Reply::Session { timeout_ms, .. }) => json!({ "ok": { "timeout_ms": timeout_ms } }),
            Ok(Reply::Closed) | Ok(Reply::Pong) | Ok(Reply::Deleted) => json!({ "ok": null }),
            Ok(Reply::Expired(id)) => {
                json!({ "ok": { "expired": id.iter().map(|i| self.name(*i)).collect::<Vec<_>>() } })
            }
            Ok(Reply::Created { path, stat }) => json!({ "ok": { "path": path, "stat": self.stat(stat) } }),
            Ok(Reply::DataSet(stat)) => json!({ "ok": { "stat": self.stat(stat) } }),
            Ok(Reply::Multi(results)) => Value::Array(results.iter().map(|r| self.op_result(r)).collect()).into_ok(),
            Err(f) if f.results.is_empty() => err(f.error),
            Err(f) => json!({ "err": f.error.name(), "results": f.results.iter().map(|r| self.op_result(r)).collect::<Vec<_>>() }),
        }
    }

    fn op_result(&self, r: &OpResult) -> Value {
        match r {
            OpResult::Create { path } => json!({ "ok": { "path": path } }),
            OpResult::Delete | OpResult::Check => json!({ "ok": null }),
            OpResult::SetData { stat } => json!({ "ok": { "stat": self.stat(stat) } }),
            OpResult::Error(e) => err(*e),
        }
    }
}

trait IntoOk {
    fn into_ok(self) -> Value;
}
impl IntoOk for Value {
    fn into_ok(self) -> Value {
        let mut m = Map::new();
        m.insert("ok".into(), self);
        Value::Object(m)
    }
}

/// One recorded operation whose replayed outcome differs from the recorded one.
#[derive(Debug)]
pub struct Mismatch {
    pub line: usize,
    pub op: Value,
    pub expected: Value,
    pub actual: Value,
}

/// Replay a recorded trace (JSON lines with `"expect"`) and compare every outcome exactly.
/// Returns the number of operations checked and the mismatches.
pub fn check_trace(text: &str) -> Result<(usize, Vec<Mismatch>), String> {
    let mut r = Replayer::new(Config::default(), 0);
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let Some(actual) = r.step(&v) else { continue };
        let expected = v.get("expect").cloned().ok_or_else(|| format!("line {}: no \"expect\"", i + 1))?;
        checked += 1;
        if actual != expected {
            let mut op = v.clone();
            if let Some(o) = op.as_object_mut() {
                o.remove("expect");
            }
            mismatches.push(Mismatch { line: i + 1, op, expected, actual });
        }
    }
    Ok((checked, mismatches))
}
