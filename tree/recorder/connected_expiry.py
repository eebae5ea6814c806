#!/usr/bin/env python3
"""What a real ZooKeeper 3.8 sends a session that expires while its connection is still open.

The session creates two ephemerals and watches both (so does a second session), then goes
silent: a relay in front of the
server stops passing the client's bytes (so no pings arrive) but keeps the server's connection
open and captures what the server sends. When the server expires the session it fires the
session's own watches (deleting its ephemerals) and closes the connection right away, without
flushing what it queued. Each run prints the events that reached the connection; the last line
is one JSON object with the counts. This is why the traces record expiries of disconnected
sessions only (see ../README.md, "Watches").
"""
import argparse, json, logging, socket, struct, threading, time

import record
from kazoo.client import KazooClient
from kazoo.protocol.serialization import Create, Exists, GetData
from kazoo.security import OPEN_ACL_UNSAFE

SESSION_TIMEOUT_S = 0.4


class SilentRelay:
    """A relay that, once frozen, drops the client's bytes, refuses reconnects, and captures
    the server's bytes instead of passing them on."""

    def __init__(self, target_port):
        self.target = target_port
        self.frozen = False
        self.captured = bytearray()
        self.server_closed = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.frozen:
                client.close()
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._up, args=(client, server), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client), daemon=True).start()

    def _up(self, client, server):
        try:
            while (d := client.recv(65536)) and not self.frozen:
                server.sendall(d)
        except OSError:
            pass

    def _down(self, server, client):
        try:
            while d := server.recv(65536):
                if self.frozen:
                    self.captured += d
                else:
                    client.sendall(d)
        except OSError:
            pass
        self.server_closed.set()

    def freeze(self):
        self.frozen = True
        self.listener.close()

    def events(self):
        """(type, path) of every watch notification captured (reply xid -1)."""
        out, buf, i = [], bytes(self.captured), 0
        while i + 4 <= len(buf):
            (n,) = struct.unpack(">i", buf[i:i + 4])
            body, i = buf[i + 4:i + 4 + n], i + 4 + n
            if len(body) >= 28 and struct.unpack(">i", body[:4])[0] == -1:
                kind, _state, length = struct.unpack(">iii", body[16:28])
                out.append((record.EVENT_NAMES.get(kind, str(kind)), body[28:28 + length].decode()))
        return out


def call(client, req):
    ar = client.handler.async_result()
    client._call(req, ar)
    return ar.get(timeout=20)


def run_once(server):
    relay = SilentRelay(server.port)
    silent = KazooClient(hosts=f"127.0.0.1:{relay.port}", timeout=SESSION_TIMEOUT_S,
                         connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.2})
    observer = KazooClient(hosts=f"127.0.0.1:{server.port}", timeout=60)
    silent.start(timeout=20)
    observer.start(timeout=20)
    try:
        for path in ("/e1", "/e2"):
            call(silent, Create(path, b"", OPEN_ACL_UNSAFE, 1))
            call(silent, GetData(path, lambda e: None))
            call(observer, GetData(path, lambda e: None))
        before = observer.last_zxid
        relay.freeze()
        deadline = time.time() + 30
        while observer.last_zxid == before and time.time() < deadline:
            call(observer, Exists("/", None))
            time.sleep(0.02)
        relay.server_closed.wait(10)
        return relay.events()
    finally:
        silent.stop(); silent.close()
        observer.stop(); observer.close()


def main():
    logging.basicConfig(level=logging.CRITICAL)
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    received = []
    for r in range(runs):
        server = record.Server()
        try:
            events = run_once(server)
        finally:
            server.stop()
        print(f"run {r + 1}: {len(events)} of 2 events reached the connection: {events}", flush=True)
        received.append(len(events))
    print(json.dumps({"runs": runs, "events_fired_per_run": 2, "events_received": received}))


if __name__ == "__main__":
    main()
