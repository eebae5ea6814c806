#!/usr/bin/env python3
"""Record seeded random operation sequences against a real ZooKeeper server.

For every seed the script starts a fresh standalone ZooKeeper on 127.0.0.1 (or, with
--ensemble, three servers in one quorum; temporary data directories, free ports), drives it
through kazoo's connection layer with raw protocol requests (so that kazoo's own path rewriting
never hides what the server answers), and writes one JSON-lines trace to
tests/traces/seed-NNN.jsonl (ensemble-NNN.jsonl). See ../README.md for the schema and the
normalisation.
"""
import argparse, json, logging, os, random, shutil, socket, subprocess, sys, tempfile, threading, time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.protocol import connection as kconn
from kazoo.protocol.serialization import (CheckVersion, Create2, Create, Delete, Exists, GetChildren2,
                                          GetData, SetData, Sync, Transaction, Watch)
from kazoo.security import OPEN_ACL_UNSAFE

ZK_JAR = "/usr/share/java/zookeeper.jar"
TICK_MS = 100
MIN_TIMEOUT_MS = 200
MAX_TIMEOUT_MS = 60000
LONG_TIMEOUT_MS = 60000
# Short sessions (the ones that expire): two timeouts, so that two cut at once expire in
# different buckets of the server's session tracker, in a known order.
SHORT_TIMEOUTS_MS = [400, 800]
EVENT_NAMES = {1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged"}
NAMES = ["a", "b", "c", "d"]
MODES = ["persistent", "ephemeral", "persistent_sequential", "ephemeral_sequential"]
MODE_FLAGS = {"persistent": 0, "ephemeral": 1, "persistent_sequential": 2, "ephemeral_sequential": 3}

# Raw watch events, per client, captured on kazoo's reader thread in arrival order.
_orig_read_watch_event = kconn.ConnectionHandler._read_watch_event


def _recording_read_watch_event(self, buffer, offset):
    watch, _ = Watch.deserialize(buffer, offset)
    sink = getattr(self.client, "_trace_events", None)
    if sink is not None:
        sink.append((EVENT_NAMES.get(watch.type, str(watch.type)), watch.path))
    return _orig_read_watch_event(self, buffer, offset)


kconn.ConnectionHandler._read_watch_event = _recording_read_watch_event


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy:
    """A TCP relay in front of the server; `cut()` silences a client without a closeSession,
    so that the server expires its session."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.socks = []
        self.dead = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.dead:
            try:
                a, _ = self.listener.accept()
            except OSError:
                return
            if self.dead:
                a.close()
                return
            b = socket.create_connection(("127.0.0.1", self.target))
            self.socks += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(x, y), daemon=True).start()

    def _pump(self, x, y):
        try:
            while True:
                d = x.recv(65536)
                if not d or self.dead:
                    break
                y.sendall(d)
        except OSError:
            pass

    def cut(self):
        self.dead = True
        for s in self.socks + [self.listener]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def wait_for_port(port, deadline_s=60):
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("ZooKeeper did not start")


class Server:
    """A standalone server, or with `size` 3 an ensemble of three (clients are spread over
    them; `ports` lists their client ports)."""

    def __init__(self, size=1):
        self.dir = tempfile.mkdtemp(prefix="zk-trace-")
        self.ports = [free_port() for _ in range(size)]
        quorum = [(free_port(), free_port()) for _ in range(size)] if size > 1 else []
        self.procs, self.logs = [], []
        for i, port in enumerate(self.ports):
            home = os.path.join(self.dir, f"s{i + 1}")
            os.makedirs(os.path.join(home, "data"))
            cfg = os.path.join(home, "zoo.cfg")
            with open(cfg, "w") as f:
                f.write(f"tickTime={TICK_MS}\ndataDir={home}/data\nclientPort={port}\n"
                        f"clientPortAddress=127.0.0.1\nminSessionTimeout={MIN_TIMEOUT_MS}\n"
                        f"maxSessionTimeout={MAX_TIMEOUT_MS}\nadmin.enableServer=false\n"
                        "4lw.commands.whitelist=\n")
                if quorum:
                    f.write("initLimit=50\nsyncLimit=20\n")
                    for j, (peer, election) in enumerate(quorum):
                        f.write(f"server.{j + 1}=127.0.0.1:{peer}:{election}\n")
            main = "org.apache.zookeeper.server.ZooKeeperServerMain"
            if quorum:
                with open(os.path.join(home, "data", "myid"), "w") as f:
                    f.write(f"{i + 1}\n")
                main = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
            log = open(os.path.join(home, "server.log"), "w")
            self.logs.append(log)
            self.procs.append(subprocess.Popen(["java", "-Xmx256m", "-cp", ZK_JAR, main, cfg],
                                               stdout=log, stderr=subprocess.STDOUT))
        for port in self.ports:
            wait_for_port(port)

    @property
    def port(self):
        return self.ports[0]

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=20)
        for log in self.logs:
            log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def stat_json(st, names):
    return {"czxid": st.czxid, "mzxid": st.mzxid, "pzxid": st.pzxid, "version": st.version,
            "cversion": st.cversion, "aversion": st.aversion,
            "ephemeralOwner": names.get(st.ephemeralOwner) if st.ephemeralOwner else None,
            "dataLength": st.dataLength, "numChildren": st.numChildren}


def data_json(data):
    """Data as the replay schema writes it: text when it is UTF-8, else hex."""
    try:
        return {"data": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"data_hex": data.hex()}


def err_name(e):
    n = type(e).__name__
    if n == "RolledBackError":
        return "RolledBack"
    return n[:-5] if n.endswith("Error") else n


class Recorder:
    def __init__(self, seed, nops, server):
        self.rng = random.Random(seed)
        self.seed = seed
        self.nops = nops
        self.server = server
        self.ensemble = len(server.ports) > 1
        self.clients = {}      # name -> KazooClient
        self.proxies = {}      # name -> Proxy (short sessions only)
        self.timeouts = {}     # name -> negotiated timeout
        self.last_touch = {}   # name -> synthetic ms of the session's last entry
        self.names = {}        # real session id -> name
        self.ephemerals = {}   # name -> ephemeral paths it created (some may be gone)
        self.next_session = 1
        self.now_ms = 0
        self.known = set()     # paths believed to exist
        self.lines = []

    # ---- plumbing -------------------------------------------------------------------------
    def call(self, name, req):
        c = self.clients[name]
        ar = c.handler.async_result()
        c._call(req, ar)
        return ar.get(timeout=20)

    def round_trip(self, name):
        """After this, every watch event the session's server sent before now has arrived. On a
        follower a sync first: the server has then applied everything committed before it."""
        if self.ensemble:
            self.call(name, Sync("/"))
        self.call(name, Exists("/", None))

    def drain(self):
        for n in self.clients:
            self.round_trip(n)

    def take_events(self, closing=None):
        """Every session's captured events, sessions in opening order; `closing` is a
        (name, client) whose client is no longer among the live ones."""
        clients = dict(self.clients)
        if closing:
            clients[closing[0]] = closing[1]
        out = []
        for n in sorted(clients, key=lambda x: int(x[1:])):
            c = clients[n]
            for typ, path in c._trace_events:
                out.append([n, typ, path])
            c._trace_events.clear()
        return out

    def last_zxid(self):
        name = next(iter(self.clients))
        self.round_trip(name)
        return self.clients[name].last_zxid

    def emit(self, op, result, zxid, events, session=None):
        self.now_ms += 1
        rec = dict(op)
        rec["now_ms"] = self.now_ms
        if session is not None:
            self.last_touch[session] = self.now_ms
        rec["expect"] = {"zxid": zxid, "result": result, "events": events}
        self.lines.append(rec)

    # ---- sessions -------------------------------------------------------------------------
    def open_session(self, short=False):
        name = f"s{self.next_session}"
        self.next_session += 1
        # In an ensemble the sessions are spread over its servers.
        port = self.server.ports[(self.next_session - 2) % len(self.server.ports)]
        timeout = LONG_TIMEOUT_MS
        if short:
            used = {self.timeouts[n] for n in self.proxies}
            timeout = next(t for t in SHORT_TIMEOUTS_MS if t not in used)
            p = Proxy(port)
            self.proxies[name] = p
            port = p.port
        c = KazooClient(hosts=f"127.0.0.1:{port}", timeout=timeout / 1000.0,
                        connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.2})
        c._trace_events = []
        c.start(timeout=20)
        self.clients[name] = c
        self.names[c._session_id] = name
        self.timeouts[name] = c._session_timeout
        self.round_trip(name)
        zxid = c.last_zxid
        self.drain()
        self.emit({"op": "open", "session": name, "timeout_ms": timeout},
                  {"ok": {"timeout_ms": c._session_timeout}}, zxid, self.take_events(), name)

    def forget(self, name):
        c = self.clients.pop(name)
        c._trace_events = None
        return c

    def close_session(self, name):
        mine = sorted(self.ephemerals.get(name, set()) & self.known)
        if mine and self.rng.random() < 0.7:
            # A watch on one of its own ephemerals, which its close then fires at it.
            path = self.rng.choice(mine)
            self.read(name, {"op": "get_data", "session": name, "path": path, "watch": True},
                      GetData(path, lambda e: None),
                      lambda res: {**data_json(res[0]), "stat": stat_json(res[1], self.names)})
        c = self.clients.pop(name)
        # ZooKeeper sends the closing session the events of its close before the close's
        # reply, and kazoo reads them until that reply: keep capturing them.
        c.stop()
        c.close()
        if name in self.proxies:
            self.proxies.pop(name).cut()
        zxid = self.last_zxid()
        self.drain()
        events = self.take_events(closing=(name, c))
        c._trace_events = None
        self.emit({"op": "close", "session": name}, {"ok": None}, zxid, events, name)
        self.refresh_known()

    def expire_sessions(self, names):
        """Cut the sessions' connections and record each expiry as its own tick, in the order
        the server expires them: the shorter timeout first (two cut at once are in buckets of
        the session tracker 400 ms apart)."""
        names = sorted(names, key=lambda n: -self.timeouts[n])
        if len(names) > 1:
            # Touch them, the shortest last, so that replicated time orders their deadlines as
            # the server's clock does (the server saw the same pings from both).
            for n in names:
                self.write(n, {"op": "set_data", "session": n, "path": "/t", "data": "", "version": -1},
                           SetData("/t", b"", -1), lambda res: {"stat": stat_json(res, self.names)})
        before = self.last_zxid()
        gone = [(n, self.forget(n)) for n in names]
        for n in names:
            self.proxies.pop(n).cut()
        for n in names:
            # The server drops the session's watches with its connection.
            self.emit({"op": "disconnect", "session": n}, {"ok": None}, before, self.take_events())
        zxid, last_bump = before, time.time()
        for n in reversed(names):
            deadline = time.time() + 30
            while time.time() < deadline:
                time.sleep(0.02)
                z = self.last_zxid()
                if z != zxid:
                    break
            else:
                raise RuntimeError("session did not expire")
            if z != zxid + 1 or (zxid != before and time.time() - last_bump < 0.2):
                raise RuntimeError(f"expiries not one at a time: {zxid:#x} -> {z:#x}")
            zxid, last_bump = z, time.time()
            self.drain()
            # Replicated time: the first tick comes after every cut session's deadline, as if
            # the expirer were late. ZooKeeper's then still polls one bucket after the other,
            # each session closed by its own transaction, so the tree must tell them apart.
            self.now_ms = max(self.now_ms, max(self.last_touch[m] + self.timeouts[m] for m in names))
            self.emit({"op": "tick"}, {"ok": {"expired": [n]}}, zxid, self.take_events())
        for _, c in gone:
            c.stop()
            c.close()
        self.refresh_known()

    def refresh_known(self):
        self.known = {p for p in self.known if self.call(next(iter(self.clients)), Exists(p, None))}

    def sweep(self):
        """Read back the whole final tree: every node's data and children, depth first in the
        server's child order."""
        s = sorted(self.clients, key=lambda x: int(x[1:]))[0]
        todo = ["/"]
        while todo:
            path = todo.pop()
            self.read(s, {"op": "get_data", "session": s, "path": path, "watch": False}, GetData(path, None),
                      lambda res: {**data_json(res[0]), "stat": stat_json(res[1], self.names)})
            r = self.read(s, {"op": "get_children", "session": s, "path": path, "watch": False},
                          GetChildren2(path, None),
                          lambda res: {"children": list(res[0]), "stat": stat_json(res[1], self.names)})
            children = r.get("ok", {}).get("children", [])
            todo.extend((path.rstrip("/") + "/" + c) for c in reversed(children))

    # ---- random operations ----------------------------------------------------------------
    def rand_path(self, allow_invalid=True):
        # No empty path: kazoo encodes "" as a null string, which is not what a client sends.
        r = self.rng.random()
        if r < 0.45 and self.known:
            return self.rng.choice(sorted(self.known))
        if r < 0.5:
            return "/"
        if allow_invalid and r < 0.54:
            return self.rng.choice(["/a/", "//a", "/a//b", "/a/.", "/./b", "/a/..", "a", "/a\u0001",
                                    "/b/", "/zookeeper", "/zookeeper/quota"])
        depth = self.rng.choice([1, 1, 2, 2, 3])
        return "/" + "/".join(self.rng.choice(NAMES) for _ in range(depth))

    def rand_parent_path(self):
        p = self.rand_path()
        if self.rng.random() < 0.3:
            return p.rstrip("/") + "/" if p != "/" else "/"
        return p

    def rand_version(self):
        r = self.rng.random()
        if r < 0.55:
            return -1
        return self.rng.choice([0, 0, 1, 2, 3])

    def rand_data(self):
        r = self.rng.random()
        if r < 0.15:
            return b""
        if r < 0.25:
            # Not UTF-8: a lone continuation byte, a 0xFF, a NUL among them.
            return bytes([0xFF, 0x00, 0x80 | self.rng.randrange(64), self.rng.randrange(256)])
        return ("v" + str(self.rng.randrange(1000)) * self.rng.choice([1, 1, 2, 5])).encode()

    def pick_session(self):
        return self.rng.choice(sorted(self.clients, key=lambda x: int(x[1:])))

    def write(self, session, op, req, shape):
        try:
            res = self.call(session, req)
            result = {"ok": shape(res)}
        except KazooException as e:
            result = {"err": err_name(e)}
        zxid = self.clients[session].last_zxid
        self.drain()
        self.emit(op, result, zxid, self.take_events(), session)
        return result

    def do_create(self, s):
        path = self.rand_parent_path() if self.rng.random() < 0.5 else self.rand_path()
        mode = self.rng.choice(MODES)
        if mode.endswith("sequential") and self.rng.random() < 0.5 and not path.endswith("/"):
            path = path.rstrip("/") + "/"
        data = self.rand_data()
        op = {"op": "create", "session": s, "path": path, **data_json(data), "mode": mode}
        r = self.write(s, op, Create2(path, data, OPEN_ACL_UNSAFE, MODE_FLAGS[mode]),
                       lambda res: {"path": res[0], "stat": stat_json(res[1], self.names)})
        if "ok" in r:
            self.known.add(r["ok"]["path"])
            if mode.startswith("ephemeral"):
                self.ephemerals.setdefault(s, set()).add(r["ok"]["path"])

    def do_delete(self, s):
        path = self.rand_path()
        version = self.rand_version()
        r = self.write(s, {"op": "delete", "session": s, "path": path, "version": version},
                       Delete(path, version), lambda res: None)
        if "ok" in r:
            self.known.discard(path)

    def do_set(self, s):
        path = self.rand_path()
        version = self.rand_version()
        data = self.rand_data()
        self.write(s, {"op": "set_data", "session": s, "path": path, **data_json(data), "version": version},
                   SetData(path, data, version), lambda res: {"stat": stat_json(res, self.names)})

    def read(self, s, op, req, shape):
        try:
            res = self.call(s, req)
            result = {"ok": shape(res)}
        except KazooException as e:
            result = {"err": err_name(e)}
        zxid = self.clients[s].last_zxid
        self.emit(op, result, zxid, self.take_events(), s)
        return result

    def do_get(self, s):
        path = self.rand_path()
        watch = self.rng.random() < 0.6
        self.read(s, {"op": "get_data", "session": s, "path": path, "watch": watch},
                  GetData(path, (lambda e: None) if watch else None),
                  lambda res: {**data_json(res[0]), "stat": stat_json(res[1], self.names)})

    def do_exists(self, s):
        path = self.rand_path()
        watch = self.rng.random() < 0.6
        self.read(s, {"op": "exists", "session": s, "path": path, "watch": watch},
                  Exists(path, (lambda e: None) if watch else None),
                  lambda res: {"stat": stat_json(res, self.names) if res else None})

    def do_children(self, s):
        path = self.rand_path()
        watch = self.rng.random() < 0.6
        self.read(s, {"op": "get_children", "session": s, "path": path, "watch": watch},
                  GetChildren2(path, (lambda e: None) if watch else None),
                  lambda res: {"children": list(res[0]), "stat": stat_json(res[1], self.names)})

    def do_sync(self, s):
        path = self.rand_path(allow_invalid=False)
        self.read(s, {"op": "sync", "session": s, "path": path}, Sync(path), lambda res: {"path": res})

    def do_multi(self, s):
        ops, reqs = [], []
        for _ in range(self.rng.choice([1, 2, 2, 3, 3, 4])):
            k = self.rng.choice(["create", "create", "delete", "set_data", "check"])
            if k == "create":
                path = self.rand_path()
                mode = self.rng.choice(MODES)
                data = self.rand_data()
                ops.append({"op": "create", "path": path, **data_json(data), "mode": mode})
                reqs.append(Create(path, data, OPEN_ACL_UNSAFE, MODE_FLAGS[mode]))
            elif k == "delete":
                path, v = self.rand_path(), self.rand_version()
                ops.append({"op": "delete", "path": path, "version": v})
                reqs.append(Delete(path, v))
            elif k == "set_data":
                path, v, data = self.rand_path(), self.rand_version(), self.rand_data()
                ops.append({"op": "set_data", "path": path, **data_json(data), "version": v})
                reqs.append(SetData(path, data, v))
            else:
                path, v = self.rand_path(), self.rand_version()
                ops.append({"op": "check", "path": path, "version": v})
                reqs.append(CheckVersion(path, v))

        def shape(results):
            out = []
            for op, res in zip(ops, results):
                if isinstance(res, Exception):
                    out.append({"err": err_name(res)})
                elif op["op"] == "create":
                    out.append({"ok": {"path": res}})
                elif op["op"] == "set_data":
                    out.append({"ok": {"stat": stat_json(res, self.names)}})
                else:
                    out.append({"ok": None})
            return out

        r = self.write(s, {"op": "multi", "session": s, "ops": ops}, Transaction(reqs), shape)
        for op, res in zip(ops, r.get("ok", [])):
            if "ok" in res and op["op"] == "create":
                self.known.add(res["ok"]["path"])
            if "ok" in res and op["op"] == "delete":
                self.known.discard(op["path"])
        if r.get("ok") and any("err" in x for x in r["ok"]):
            # A failed multi: report it as ZooKeeper's Java client does, first error on top.
            first = next(x["err"] for x in r["ok"] if x["err"] not in ("RolledBack", "RuntimeInconsistency"))
            self.lines[-1]["expect"]["result"] = {"err": first, "results": r["ok"]}

    def run(self):
        header = {"zookeeper": "3.8.0", "seed": self.seed, "servers": len(self.server.ports),
                  "min_session_timeout_ms": MIN_TIMEOUT_MS, "max_session_timeout_ms": MAX_TIMEOUT_MS}
        self.lines.append({"header": header})
        self.open_session()
        self.open_session()
        s0 = "s1"
        # zxid = epoch << 32 | counter; a standalone server stays in epoch 0, an ensemble's
        # first leader starts epoch 1.
        header["epoch"] = self.lines[1]["expect"]["zxid"] >> 32
        if self.ensemble:
            # An ensemble writes its membership into /zookeeper/config as it starts.
            header["membership"] = self.call(s0, GetData("/zookeeper/config", None))[0].decode()
        for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]:
            self.read(s0, {"op": "get_children", "session": s0, "path": p, "watch": False},
                      GetChildren2(p, None),
                      lambda res: {"children": list(res[0]), "stat": stat_json(res[1], self.names)})
        while len(self.lines) - 1 < self.nops:
            r = self.rng.random()
            live = len(self.clients)
            short_live = [n for n in self.clients if n in self.proxies]
            if r < 0.04 and live < 5:
                self.open_session(short=len(short_live) < len(SHORT_TIMEOUTS_MS) and self.rng.random() < 0.5)
            elif r < 0.06 and live > 2:
                self.close_session(self.pick_session())
            elif r < 0.08 and short_live:
                # All short sessions at once: one left alive would ping the server, but its
                # replicated deadline would pass with the expiring tick's time.
                self.expire_sessions(short_live)
            else:
                s = self.pick_session()
                k = self.rng.random()
                if k < 0.30: self.do_create(s)
                elif k < 0.42: self.do_delete(s)
                elif k < 0.54: self.do_set(s)
                elif k < 0.64: self.do_get(s)
                elif k < 0.73: self.do_exists(s)
                elif k < 0.83: self.do_children(s)
                elif k < 0.97: self.do_multi(s)
                else: self.do_sync(s)
        self.sweep()
        for name in list(self.clients):
            c = self.forget(name)
            c.stop(); c.close()
        for p in self.proxies.values():
            p.cut()
        return self.lines


def main():
    logging.basicConfig(level=logging.CRITICAL)
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--ops", type=int, default=300)
    ap.add_argument("--ensemble", action="store_true", help="three servers in one quorum")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "traces"))
    a = ap.parse_args()
    kind = "ensemble" if a.ensemble else "seed"
    os.makedirs(a.out, exist_ok=True)
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        for attempt in range(3):
            server = Server(3 if a.ensemble else 1)
            try:
                lines = Recorder(seed, a.ops, server).run()
                break
            except Exception as e:  # a server that was slow to start: start afresh
                print(f"seed {seed}: attempt {attempt + 1} failed: {e!r}", file=sys.stderr)
                if attempt == 2:
                    raise
            finally:
                server.stop()
        path = os.path.join(a.out, f"{kind}-{seed:03}.jsonl")
        with open(path, "w") as f:
            for l in lines:
                f.write(json.dumps(l, separators=(",", ":"), ensure_ascii=False) + "\n")
        print(f"seed {seed}: {len(lines) - 1} operations -> {path}", flush=True)


if __name__ == "__main__":
    main()
