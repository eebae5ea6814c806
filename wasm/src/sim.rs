//! `Simulation`: the kernel's deterministic cluster simulator for JS tests and
//! pages. One seed decides the network, the disks, the clocks, the load and
//! every fault; the invariants are checked after every input to every node.
//! Nodes are named by their ids (1..=size), as everywhere in the JS API.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::Array;
use wasm_bindgen::prelude::*;
use zaxos::sim::{FaultCounts, FaultRates, Options, Report, Simulation as Sim, Violation};
use zaxos::Bugs;

use crate::js::{bad_argument, get, num, only_keys, set, u64_of, uint, uint_or, zxid};
use crate::node::event_object;

#[wasm_bindgen(typescript_custom_section)]
const TS_SIM_TYPES: &'static str = r#"
/** Fault rates: probabilities per message, per tick or per node-tick, and delays in ticks. */
export interface FaultRates {
  /** A message is lost. */
  loss: number;
  /** A message is delivered twice. */
  duplicate: number;
  /** A message is delayed past later ones. */
  reorder: number;
  /** Largest delivery delay in ticks. */
  latencyTicksMax: number;
  /** Per tick: a partition of some shape starts (symmetric, asymmetric, or partial connectivity). */
  partition: number;
  /** Per node and tick: the node crashes, losing every write not yet durable. */
  crash: number;
  /** On a crash: the write being made is torn (a prefix of it survives). */
  tornWrite: number;
  /** Largest delay in ticks before a write becomes durable. */
  storageDelayTicksMax: number;
  /** Per node: its clock runs at 0.5x to 1.5x. */
  clockSkew: number;
  /** Per tick: a client proposes at a random node. */
  propose: number;
  /** Per tick: the leader is asked to hand leadership over to a random voter. */
  transfer: number;
  /** Per tick: the leader is asked for a random membership change (spare nodes join and leave). */
  reconfig: number;
  /** Per tick: a message sent at any earlier time is delivered again. */
  replay: number;
  /** Per message: one field is made implausible (a forged or corrupted message). */
  forge: number;
  /** Per tick: a random node's host takes a snapshot now. */
  compact: number;
}

/** Deliberate kernel bugs, to watch the invariant checker catch them. All off by default. */
export interface Bugs {
  quorumOfOne?: boolean;
  ackBeforeDurable?: boolean;
  skipTrunc?: boolean;
  electionIgnoresZxid?: boolean;
}

/** What a simulation is made of. Only `seed` is required; unknown properties are refused. */
export interface SimulationOptions {
  /** The seed that decides everything. */
  seed: number | bigint;
  /** Ticks of the faulty phase (for `runToEnd`). Default 20000. */
  ticks?: number;
  /** Voters, ids 1..voters; 0 draws 3, 5 or 7 from the seed. Default 0. */
  voters?: number;
  /** Observers, ids after the voters (drawn from the seed too when voters is 0). Default 0. */
  observers?: number;
  /** Fault rates; missing ones are 0 (propose 0.3). Omit to draw them all from the seed. */
  faults?: Partial<FaultRates>;
  /** Election timeout of every node in ticks (at least 3). Default 10. */
  electionTimeoutTicks?: number;
  /** After faults stop, every node must commit within this many election timeouts. Default 20. */
  livenessTimeouts?: number;
  /** Snapshot each node's history when it is this many entries long (0: never). Default 0. */
  compactEvery?: number;
  /** Record a readable trace (`takeTrace`). Default false. */
  trace?: boolean;
  /** Deliberate kernel bugs. */
  bugs?: Bugs;
}

/** One node as the simulation sees it. `up` is false while it is crashed. */
export interface SimNodeView {
  id: number;
  up: boolean;
  role?: Role;
  epoch?: number;
  leader?: number;
  isLeader?: boolean;
  lastZxid?: Zxid;
  commitZxid?: Zxid;
  commitIndex?: number;
  appliedIndex?: number;
  lastIndex?: number;
}

/** A broken invariant. */
export interface Violation {
  tick: number;
  invariant: string;
  detail: string;
}

/** Faults injected so far, by class. */
export interface FaultCounts {
  loss: number;
  duplicate: number;
  reorder: number;
  partition: number;
  partialConnectivity: number;
  crash: number;
  tornWrite: number;
  clockSkew: number;
  replay: number;
  forge: number;
  compact: number;
}

/** The outcome of a run. `logHash` (16 hex digits) is the same on every target for the same options. */
export interface SimulationReport {
  seed: bigint;
  ticks: number;
  violations: Violation[];
  livenessOk: boolean;
  recoveryTicks: number;
  elections: number;
  committed: number;
  faults: FaultCounts;
  messages: number;
  rates: FaultRates;
  logHash: string;
  /** Membership changes committed. */
  reconfigs: number;
}

/** A role, leader or epoch change seen at `tick` on node `node`. */
export interface SimEvent {
  tick: number;
  node: number;
  event: NodeEvent;
}
"#;

const OPTION_KEYS: &[&str] =
    &["seed", "ticks", "voters", "observers", "faults", "electionTimeoutTicks", "livenessTimeouts", "compactEvery", "trace", "bugs"];
const RATE_KEYS: &[&str] =
    &["loss", "duplicate", "reorder", "latencyTicksMax", "partition", "crash", "tornWrite", "storageDelayTicksMax", "clockSkew", "propose", "transfer", "reconfig", "replay", "forge", "compact"];
const BUG_KEYS: &[&str] = &["quorumOfOne", "ackBeforeDurable", "skipTrunc", "electionIgnoresZxid"];
/// Ticks far enough ahead to mean "until restarted", with room left for the clock.
const FOREVER: u64 = 1 << 52;

fn probability(value: &JsValue, default: f64, what: &str) -> Result<f64, JsValue> {
    if value.is_undefined() {
        return Ok(default);
    }
    match value.as_f64() {
        Some(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(bad_argument(what, "a number in 0..1")),
    }
}

fn flag(value: &JsValue, what: &str) -> Result<bool, JsValue> {
    if value.is_undefined() {
        return Ok(false);
    }
    value.as_bool().ok_or_else(|| bad_argument(what, "a boolean"))
}

/// Rates from `{ loss, duplicate, ... }`, the missing ones taken from `base`.
fn rates(object: &JsValue, base: FaultRates) -> Result<FaultRates, JsValue> {
    const WHAT: &str = "faults";
    only_keys(object, RATE_KEYS, WHAT)?;
    let p = |key: &str, default: f64| probability(&get(object, key, WHAT)?, default, WHAT);
    let ticks = |key: &str, default: u64| uint_or(&get(object, key, WHAT)?, default, 1 << 20, WHAT);
    Ok(FaultRates {
        loss: p("loss", base.loss)?,
        duplicate: p("duplicate", base.duplicate)?,
        reorder: p("reorder", base.reorder)?,
        latency_ticks_max: ticks("latencyTicksMax", base.latency_ticks_max)?,
        partition: p("partition", base.partition)?,
        crash: p("crash", base.crash)?,
        torn_write: p("tornWrite", base.torn_write)?,
        storage_delay_ticks_max: ticks("storageDelayTicksMax", base.storage_delay_ticks_max)?,
        clock_skew: p("clockSkew", base.clock_skew)?,
        propose: p("propose", base.propose)?,
        transfer: p("transfer", base.transfer)?,
        reconfig: p("reconfig", base.reconfig)?,
        replay: p("replay", base.replay)?,
        forge: p("forge", base.forge)?,
        compact: p("compact", base.compact)?,
    })
}

fn options(object: &JsValue) -> Result<Options, JsValue> {
    const WHAT: &str = "options";
    only_keys(object, OPTION_KEYS, WHAT)?;
    let field = |key: &str| get(object, key, WHAT);
    let seed = field("seed")?;
    if seed.is_undefined() {
        return Err(bad_argument("options.seed", "a number or bigint"));
    }
    let mut o = Options { seed: u64_of(&seed, "options.seed")?, ..Options::default() };
    o.ticks = uint_or(&field("ticks")?, o.ticks, 1 << 40, "options.ticks")?;
    o.voters = uint_or(&field("voters")?, 0, 9, "options.voters")? as usize;
    o.observers = uint_or(&field("observers")?, 0, 8, "options.observers")? as usize;
    if o.voters + o.observers > zaxos::limits::MEMBERS_MAX || (o.voters == 0 && o.observers > 0) {
        return Err(bad_argument("options.voters", "at least 1 when observers are given, and at most 9 members in all"));
    }
    let faults = field("faults")?;
    if !faults.is_undefined() {
        o.faults = Some(rates(&faults, FaultRates { propose: 0.3, ..FaultRates::none() })?);
    }
    let timeout = uint_or(&field("electionTimeoutTicks")?, u64::from(o.election_timeout_ticks), 10_000, "options.electionTimeoutTicks")?;
    if timeout < 3 {
        return Err(bad_argument("options.electionTimeoutTicks", "at least 3"));
    }
    o.election_timeout_ticks = timeout as u32;
    o.liveness_timeouts = uint_or(&field("livenessTimeouts")?, o.liveness_timeouts, 10_000, "options.livenessTimeouts")?;
    o.compact_every = uint_or(&field("compactEvery")?, 0, 1 << 32, "options.compactEvery")?;
    o.trace = flag(&field("trace")?, "options.trace")?;
    let bugs = field("bugs")?;
    if !bugs.is_undefined() {
        only_keys(&bugs, BUG_KEYS, "options.bugs")?;
        let bug = |key: &str| flag(&get(&bugs, key, "options.bugs")?, "options.bugs");
        o.bugs = Bugs {
            quorum_of_one: bug("quorumOfOne")?,
            ack_before_durable: bug("ackBeforeDurable")?,
            skip_trunc: bug("skipTrunc")?,
            election_ignores_zxid: bug("electionIgnoresZxid")?,
            ..Bugs::default()
        };
    }
    Ok(o)
}

fn rates_object(r: FaultRates) -> JsValue {
    let o = js_sys::Object::new();
    for (key, value) in [
        ("loss", r.loss),
        ("duplicate", r.duplicate),
        ("reorder", r.reorder),
        ("latencyTicksMax", r.latency_ticks_max as f64),
        ("partition", r.partition),
        ("crash", r.crash),
        ("tornWrite", r.torn_write),
        ("storageDelayTicksMax", r.storage_delay_ticks_max as f64),
        ("clockSkew", r.clock_skew),
        ("propose", r.propose),
        ("transfer", r.transfer),
        ("reconfig", r.reconfig),
        ("replay", r.replay),
        ("forge", r.forge),
        ("compact", r.compact),
    ] {
        set(&o, key, value);
    }
    o.into()
}

fn counts_object(c: FaultCounts) -> JsValue {
    let o = js_sys::Object::new();
    for (key, value) in [
        ("loss", c.loss),
        ("duplicate", c.duplicate),
        ("reorder", c.reorder),
        ("partition", c.partition),
        ("partialConnectivity", c.partial_connectivity),
        ("crash", c.crash),
        ("tornWrite", c.torn_write),
        ("clockSkew", c.clock_skew),
        ("replay", c.replay),
        ("forge", c.forge),
        ("compact", c.compact),
    ] {
        set(&o, key, num(value));
    }
    o.into()
}

fn violations_array(violations: &[Violation]) -> Array {
    violations
        .iter()
        .map(|v| {
            let o = js_sys::Object::new();
            set(&o, "tick", num(v.tick));
            set(&o, "invariant", v.invariant);
            set(&o, "detail", v.detail.as_str());
            JsValue::from(o)
        })
        .collect()
}

/// 16 lowercase hex digits, without `core::fmt`.
fn hex(value: u64) -> String {
    (0..16).rev().map(|i| char::from(b"0123456789abcdef"[((value >> (i * 4)) & 0xf) as usize])).collect()
}

fn report_object(r: &Report) -> JsValue {
    let o = js_sys::Object::new();
    set(&o, "seed", r.seed);
    set(&o, "ticks", num(r.ticks));
    set(&o, "violations", violations_array(&r.violations));
    set(&o, "livenessOk", r.liveness_ok);
    set(&o, "recoveryTicks", num(r.recovery_ticks));
    set(&o, "elections", num(r.elections));
    set(&o, "committed", num(r.committed));
    set(&o, "faults", counts_object(r.faults));
    set(&o, "messages", num(r.messages));
    if let Some(rates) = r.rates {
        set(&o, "rates", rates_object(rates));
    }
    set(&o, "logHash", hex(r.log_hash));
    set(&o, "reconfigs", num(r.reconfigs));
    o.into()
}

/// A whole simulated cluster, driven by a seed: fault rates, ticks, partitions,
/// crashes and restarts, proposals, each node's state and log, and the results
/// of the invariant checks after every step.
#[wasm_bindgen(js_name = Simulation)]
pub struct JsSimulation {
    sim: Sim,
}

impl JsSimulation {
    /// The index of node `id`, refusing ids outside the cluster.
    fn index(&self, id: &JsValue, what: &str) -> Result<usize, JsValue> {
        let id = uint(id, self.sim.len() as u64, what)?;
        if id == 0 {
            return Err(bad_argument(what, "a node id of this cluster (1..size)"));
        }
        Ok(id as usize - 1)
    }
}

#[wasm_bindgen(js_class = Simulation)]
impl JsSimulation {
    /// A cluster built from `options.seed` (sizes and fault rates not given are
    /// drawn from it). Throws `BAD_ARGUMENT` for options of the wrong type or range.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_param_type = "SimulationOptions")] options: JsValue) -> Result<JsSimulation, JsValue> {
        Ok(JsSimulation { sim: Sim::new(self::options(&options)?) })
    }

    /// Runs one tick of the faulty phase.
    pub fn step(&mut self) {
        self.sim.step();
    }

    /// Runs up to `ticks` ticks, stopping early at the first violation; returns the ticks run.
    pub fn run(&mut self, #[wasm_bindgen(unchecked_param_type = "number")] ticks: JsValue) -> Result<f64, JsValue> {
        let ticks = uint(&ticks, 1 << 40, "ticks")?;
        let mut ran = 0;
        while ran < ticks && self.sim.violations().is_empty() {
            self.sim.step();
            ran += 1;
        }
        Ok(ran as f64)
    }

    /// Runs the whole faulty phase (`options.ticks`), then the fault-free
    /// phase in which a leader must be elected and commit on every node.
    #[wasm_bindgen(js_name = runToEnd, unchecked_return_type = "SimulationReport")]
    pub fn run_to_end(&mut self) -> JsValue {
        report_object(&self.sim.run())
    }

    /// Stops the faults now and runs the fault-free phase; returns the report.
    #[wasm_bindgen(unchecked_return_type = "SimulationReport")]
    pub fn finish(&mut self) -> JsValue {
        report_object(&self.sim.finish())
    }

    /// The fault rates in force.
    #[wasm_bindgen(getter, unchecked_return_type = "FaultRates")]
    pub fn faults(&self) -> JsValue {
        rates_object(self.sim.rates())
    }

    /// Changes fault rates; the properties not given keep their values.
    #[wasm_bindgen(js_name = setFaults)]
    pub fn set_faults(&mut self, #[wasm_bindgen(unchecked_param_type = "Partial<FaultRates>")] rates: JsValue) -> Result<(), JsValue> {
        let rates = self::rates(&rates, self.sim.rates())?;
        self.sim.set_rates(rates);
        Ok(())
    }

    /// Turns the random faults on or off (manual partitions and crashes still work).
    #[wasm_bindgen(js_name = setFaulty)]
    pub fn set_faulty(&mut self, #[wasm_bindgen(unchecked_param_type = "boolean")] on: JsValue) -> Result<(), JsValue> {
        let on = on.as_bool().ok_or_else(|| bad_argument("on", "a boolean"))?;
        self.sim.set_faulty(on);
        Ok(())
    }

    /// Opens or closes the link from node `from` to node `to` (one direction).
    #[wasm_bindgen(js_name = setLink)]
    pub fn set_link(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "number")] from: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] to: JsValue,
        #[wasm_bindgen(unchecked_param_type = "boolean")] open: JsValue,
    ) -> Result<(), JsValue> {
        let (from, to) = (self.index(&from, "from")?, self.index(&to, "to")?);
        let open = open.as_bool().ok_or_else(|| bad_argument("open", "a boolean"))?;
        self.sim.set_link(from, to, open);
        Ok(())
    }

    /// Cuts nodes `a` and `b` apart, both ways.
    pub fn partition(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "number")] a: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] b: JsValue,
    ) -> Result<(), JsValue> {
        let (a, b) = (self.index(&a, "a")?, self.index(&b, "b")?);
        self.sim.set_link(a, b, false);
        self.sim.set_link(b, a, false);
        Ok(())
    }

    /// Cuts node `id` off from every other node, both ways.
    pub fn isolate(&mut self, #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue) -> Result<(), JsValue> {
        let i = self.index(&id, "id")?;
        for other in (0..self.sim.len()).filter(|&o| o != i) {
            self.sim.set_link(i, other, false);
            self.sim.set_link(other, i, false);
        }
        Ok(())
    }

    /// Opens every link.
    pub fn heal(&mut self) {
        self.sim.heal();
    }

    /// Crashes node `id`: it loses every write not yet durable, and stays down
    /// for `downTicks` ticks (while random faults are on) or until `restart`.
    pub fn crash(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] down_ticks: JsValue,
    ) -> Result<(), JsValue> {
        let i = self.index(&id, "id")?;
        let down = uint_or(&down_ticks, FOREVER, FOREVER, "downTicks")?;
        self.sim.crash(i, down);
        Ok(())
    }

    /// Restarts node `id` from its disk, if it is down.
    pub fn restart(&mut self, #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue) -> Result<(), JsValue> {
        let i = self.index(&id, "id")?;
        self.sim.restart(i);
        Ok(())
    }

    /// A client proposes a fresh payload at node `id` (forwarded if it does not
    /// lead); returns whether the node took it.
    pub fn propose(&mut self, #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue) -> Result<bool, JsValue> {
        let i = self.index(&id, "id")?;
        Ok(self.sim.propose_at(i))
    }

    /// Node `id` as the simulation sees it.
    #[wasm_bindgen(unchecked_return_type = "SimNodeView")]
    pub fn node(&self, #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue) -> Result<JsValue, JsValue> {
        let i = self.index(&id, "id")?;
        Ok(self.view(i))
    }

    /// Every node, in id order.
    #[wasm_bindgen(unchecked_return_type = "SimNodeView[]")]
    pub fn nodes(&self) -> Array {
        (0..self.sim.len()).map(|i| self.view(i)).collect()
    }

    fn view(&self, i: usize) -> JsValue {
        let o = js_sys::Object::new();
        set(&o, "id", i as u32 + 1);
        let Some(node) = self.sim.node(i) else {
            set(&o, "up", false);
            return o.into();
        };
        set(&o, "up", true);
        set(&o, "role", crate::node::role_name(node.role()));
        set(&o, "epoch", node.epoch());
        if let Some(leader) = node.leader() {
            set(&o, "leader", leader);
        }
        set(&o, "isLeader", node.is_established_leader());
        set(&o, "lastZxid", zxid(node.last_zxid()));
        set(&o, "commitZxid", zxid(node.commit_zxid()));
        set(&o, "commitIndex", num(node.commit_index()));
        set(&o, "appliedIndex", num(node.applied_index()));
        set(&o, "lastIndex", num(node.storage_last_index()));
        o.into()
    }

    /// What node `id` applied since it last started: `{ index, zxid }` in order.
    #[wasm_bindgen(unchecked_return_type = "{ index: number; zxid: Zxid }[]")]
    pub fn log(&self, #[wasm_bindgen(unchecked_param_type = "number")] id: JsValue) -> Result<Array, JsValue> {
        let i = self.index(&id, "id")?;
        Ok(self
            .sim
            .applied(i)
            .iter()
            .map(|&(index, z)| {
                let o = js_sys::Object::new();
                set(&o, "index", num(index));
                set(&o, "zxid", zxid(z));
                JsValue::from(o)
            })
            .collect())
    }

    /// The invariant violations found so far (a run stops at the first).
    #[wasm_bindgen(getter, unchecked_return_type = "Violation[]")]
    pub fn violations(&self) -> Array {
        violations_array(self.sim.violations())
    }

    /// Faults injected so far, by class.
    #[wasm_bindgen(getter, js_name = faultCounts, unchecked_return_type = "FaultCounts")]
    pub fn fault_counts(&self) -> JsValue {
        counts_object(self.sim.faults())
    }

    /// A hash of the committed log (16 hex digits), the same on every target.
    #[wasm_bindgen(getter, js_name = logHash)]
    pub fn log_hash(&self) -> String {
        hex(self.sim.log_hash())
    }

    /// The current tick.
    #[wasm_bindgen(getter)]
    pub fn now(&self) -> f64 {
        self.sim.now() as f64
    }

    /// Number of nodes (ids 1..size).
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> u32 {
        self.sim.len() as u32
    }

    /// Role, leader and epoch changes since the last call.
    #[wasm_bindgen(js_name = takeEvents, unchecked_return_type = "SimEvent[]")]
    pub fn take_events(&mut self) -> Array {
        self.sim
            .take_events()
            .into_iter()
            .map(|(tick, id, event)| {
                let o = js_sys::Object::new();
                set(&o, "tick", num(tick));
                set(&o, "node", id);
                set(&o, "event", event_object(event));
                JsValue::from(o)
            })
            .collect()
    }

    /// The readable trace since the last call (with `options.trace`).
    #[wasm_bindgen(js_name = takeTrace)]
    pub fn take_trace(&mut self) -> Vec<String> {
        self.sim.take_trace()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::hex;

    #[test]
    fn hex_is_sixteen_lowercase_digits() {
        assert_eq!(hex(0), "0000000000000000");
        assert_eq!(hex(0x27af_1a76_fcbc_be8d), "27af1a76fcbcbe8d");
        assert_eq!(hex(u64::MAX), "ffffffffffffffff");
    }
}
