#!/usr/bin/env python3
"""Record seeded random operation sequences against a real ZooKeeper server.

For every seed the script starts a fresh standalone ZooKeeper on 127.0.0.1 (temporary data
directory, free port), drives it through kazoo's connection layer with raw protocol requests (so
that kazoo's own path rewriting never hides what the server answers), and writes one JSON-lines
trace to tests/traces/seed-NNN.jsonl. See ../README.md for the schema and the normalisation.
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
SHORT_TIMEOUT_MS = 400
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


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="zk-trace-")
        self.port = free_port()
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write(f"tickTime={TICK_MS}\ndataDir={self.dir}/data\nclientPort={self.port}\n"
                    f"clientPortAddress=127.0.0.1\nminSessionTimeout={MIN_TIMEOUT_MS}\n"
                    f"maxSessionTimeout={MAX_TIMEOUT_MS}\nadmin.enableServer=false\n"
                    "4lw.commands.whitelist=\n")
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(["java", "-Xmx256m", "-cp", ZK_JAR,
                                      "org.apache.zookeeper.server.ZooKeeperServerMain", cfg],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("ZooKeeper did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def stat_json(st, names):
    return {"czxid": st.czxid, "mzxid": st.mzxid, "pzxid": st.pzxid, "version": st.version,
            "cversion": st.cversion, "aversion": st.aversion,
            "ephemeralOwner": names.get(st.ephemeralOwner) if st.ephemeralOwner else None,
            "dataLength": st.dataLength, "numChildren": st.numChildren}


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
        self.clients = {}      # name -> KazooClient
        self.proxies = {}      # name -> Proxy (short sessions only)
        self.timeouts = {}     # name -> negotiated timeout
        self.last_touch = {}   # name -> synthetic ms of the session's last entry
        self.names = {}        # real session id -> name
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

    def drain(self, skip=None):
        """Round trip on every session so that every watch event sent before now has arrived."""
        for n, c in self.clients.items():
            if n != skip:
                self.call(n, Exists("/", None))

    def take_events(self):
        out = []
        for n in sorted(self.clients, key=lambda x: int(x[1:])):
            c = self.clients[n]
            for typ, path in c._trace_events:
                out.append([n, typ, path])
            c._trace_events.clear()
        return out

    def last_zxid(self):
        c = self.clients[next(iter(self.clients))]
        self.call(next(iter(self.clients)), Exists("/", None))
        return c.last_zxid & 0xFFFFFFFF

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
        port = self.server.port
        if short:
            p = Proxy(self.server.port)
            self.proxies[name] = p
            port = p.port
        timeout = SHORT_TIMEOUT_MS if short else LONG_TIMEOUT_MS
        c = KazooClient(hosts=f"127.0.0.1:{port}", timeout=timeout / 1000.0,
                        connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.2})
        c._trace_events = []
        c.start(timeout=20)
        self.clients[name] = c
        self.names[c._session_id] = name
        self.timeouts[name] = c._session_timeout
        self.call(name, Exists("/", None))
        zxid = c.last_zxid & 0xFFFFFFFF
        self.drain(skip=name)
        self.emit({"op": "open", "session": name, "timeout_ms": timeout},
                  {"ok": {"timeout_ms": c._session_timeout}}, zxid, self.take_events(), name)

    def forget(self, name):
        c = self.clients.pop(name)
        c._trace_events = None
        return c

    def close_session(self, name):
        c = self.forget(name)
        c.stop()
        c.close()
        if name in self.proxies:
            self.proxies.pop(name).cut()
        zxid = self.last_zxid()
        self.drain()
        self.emit({"op": "close", "session": name}, {"ok": None}, zxid, self.take_events(), name)
        self.refresh_known()

    def expire_session(self, name):
        """Cut the session's connection and wait until the server has expired it."""
        before = self.last_zxid()
        c = self.forget(name)
        self.proxies.pop(name).cut()
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(0.05)
            if self.last_zxid() != before:
                break
        else:
            raise RuntimeError("session did not expire")
        c.stop()
        c.close()
        zxid = self.last_zxid()
        assert zxid == before + 1, (before, zxid)
        self.drain()
        # Replicated time: the tick that expires the session comes after its deadline.
        self.now_ms = max(self.now_ms, self.last_touch[name] + self.timeouts[name])
        self.emit({"op": "tick"}, {"ok": {"expired": [name]}}, zxid, self.take_events())
        self.refresh_known()

    def refresh_known(self):
        self.known = {p for p in self.known if self.call(next(iter(self.clients)), Exists(p, None))}

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
        if self.rng.random() < 0.15:
            return ""
        return "v" + str(self.rng.randrange(1000)) * self.rng.choice([1, 1, 2, 5])

    def pick_session(self):
        return self.rng.choice(sorted(self.clients, key=lambda x: int(x[1:])))

    def write(self, session, op, req, shape):
        try:
            res = self.call(session, req)
            result = {"ok": shape(res)}
        except KazooException as e:
            result = {"err": err_name(e)}
        zxid = self.clients[session].last_zxid & 0xFFFFFFFF
        self.drain()
        self.emit(op, result, zxid, self.take_events(), session)
        return result

    def do_create(self, s):
        path = self.rand_parent_path() if self.rng.random() < 0.5 else self.rand_path()
        mode = self.rng.choice(MODES)
        if mode.endswith("sequential") and self.rng.random() < 0.5 and not path.endswith("/"):
            path = path.rstrip("/") + "/"
        data = self.rand_data()
        op = {"op": "create", "session": s, "path": path, "data": data, "mode": mode}
        r = self.write(s, op, Create2(path, data.encode(), OPEN_ACL_UNSAFE, MODE_FLAGS[mode]),
                       lambda res: {"path": res[0], "stat": stat_json(res[1], self.names)})
        if "ok" in r:
            self.known.add(r["ok"]["path"])

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
        self.write(s, {"op": "set_data", "session": s, "path": path, "data": data, "version": version},
                   SetData(path, data.encode(), version), lambda res: {"stat": stat_json(res, self.names)})

    def read(self, s, op, req, shape):
        try:
            res = self.call(s, req)
            result = {"ok": shape(res)}
        except KazooException as e:
            result = {"err": err_name(e)}
        zxid = self.clients[s].last_zxid & 0xFFFFFFFF
        self.emit(op, result, zxid, self.take_events(), s)

    def do_get(self, s):
        path = self.rand_path()
        watch = self.rng.random() < 0.6
        self.read(s, {"op": "get_data", "session": s, "path": path, "watch": watch},
                  GetData(path, (lambda e: None) if watch else None),
                  lambda res: {"data": res[0].decode(), "stat": stat_json(res[1], self.names)})

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
                ops.append({"op": "create", "path": path, "data": data, "mode": mode})
                reqs.append(Create(path, data.encode(), OPEN_ACL_UNSAFE, MODE_FLAGS[mode]))
            elif k == "delete":
                path, v = self.rand_path(), self.rand_version()
                ops.append({"op": "delete", "path": path, "version": v})
                reqs.append(Delete(path, v))
            elif k == "set_data":
                path, v, data = self.rand_path(), self.rand_version(), self.rand_data()
                ops.append({"op": "set_data", "path": path, "data": data, "version": v})
                reqs.append(SetData(path, data.encode(), v))
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
        self.lines.append({"header": {"zookeeper": "3.8.0", "seed": self.seed,
                                      "min_session_timeout_ms": MIN_TIMEOUT_MS,
                                      "max_session_timeout_ms": MAX_TIMEOUT_MS}})
        self.open_session()
        self.open_session()
        s0 = "s1"
        for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]:
            self.read(s0, {"op": "get_children", "session": s0, "path": p, "watch": False},
                      GetChildren2(p, None),
                      lambda res: {"children": list(res[0]), "stat": stat_json(res[1], self.names)})
        while len(self.lines) - 1 < self.nops:
            r = self.rng.random()
            live = len(self.clients)
            short_live = [n for n in self.clients if n in self.proxies]
            if r < 0.04 and live < 5:
                self.open_session(short=not short_live and self.rng.random() < 0.5)
            elif r < 0.06 and live > 2:
                self.close_session(self.pick_session())
            elif r < 0.08 and short_live:
                self.expire_session(short_live[0])
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
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "traces"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        for attempt in range(3):
            server = Server()
            try:
                lines = Recorder(seed, a.ops, server).run()
                break
            except Exception as e:  # a server that was slow to start: start afresh
                print(f"seed {seed}: attempt {attempt + 1} failed: {e!r}", file=sys.stderr)
                if attempt == 2:
                    raise
            finally:
                server.stop()
        path = os.path.join(a.out, f"seed-{seed:03}.jsonl")
        with open(path, "w") as f:
            for l in lines:
                f.write(json.dumps(l, separators=(",", ":"), ensure_ascii=False) + "\n")
        print(f"seed {seed}: {len(lines) - 1} operations -> {path}", flush=True)


if __name__ == "__main__":
    main()
