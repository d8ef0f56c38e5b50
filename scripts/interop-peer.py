#!/usr/bin/env python3
# interop-peer: the plaintext ends of a COCOON router, for scripts/interop-cocoon.sh.
# SPDX-License-Identifier: Apache-2.0
"""Two small peers that stand where COCOON's runners stand behind its `router`:

  sink PORT      listens on 127.0.0.1:PORT as the router's -R destination: prints the
                 AttestedPeerInfo frame (with --serialize-info), answers the peer's tcp.connect with
                 tcp.connected and prints the constructor of every later frame.
  socks PORT HOST:DPORT
                 drives the router's -S SOCKS5 port: CONNECT to HOST:DPORT (the router then does
                 PoW + TLS towards it), prints the AttestedPeerInfo frame, sends tcp.connect and
                 tcp.ping and expects tcp.connected and tcp.pong (exit 0 only then).

Every line printed starts with `peer:`; byte layouts: frame = len u32 LE | seqno i32 LE | payload
(net/frame.h), AttestedPeerInfo = len u32 LE | td-serialized struct (router.cpp)."""
import os
import socket
import struct
import sys

# Constructor ids as u32 values (the wire holds them little-endian; src/net/tcp_packet.h).
TCP_IDS = {0xbbe9627c: "tcp.ping", 0x0bd4302c: "tcp.pong", 0x9c17baf8: "tcp.packet",
           0x3af51908: "tcp.query", 0xc048c311: "tcp.queryAnswer", 0x4cd2f602: "tcp.queryError",
           0xa57c4261: "tcp.connect", 0x636d41d6: "tcp.connected"}
TCP_PING, TCP_PONG, TCP_CONNECT, TCP_CONNECTED = 0xbbe9627c, 0x0bd4302c, 0xa57c4261, 0x636d41d6
MAX_INFO = 1 << 20


def say(*a):
    print("peer:", *a, flush=True)


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def read_info(s):
    (n,) = struct.unpack("<I", recv_exact(s, 4))
    if n > MAX_INFO:
        raise ValueError("AttestedPeerInfo length %d too large" % n)
    body = recv_exact(s, n)
    say("AttestedPeerInfo %d bytes: %s" % (n, body.hex()))
    # The peer's address strings are TL strings near the end; show them readably.
    printable = "".join(chr(b) if 32 <= b < 127 else "." for b in body[-64:])
    say("AttestedPeerInfo tail (ascii): %s" % printable)
    return body


class Framer:
    def __init__(self, s):
        self.s, self.out_seq, self.in_seq = s, 0, 0

    def send(self, payload):
        self.s.sendall(struct.pack("<Ii", len(payload), self.out_seq) + payload)
        self.out_seq += 1

    def recv(self):
        n, seq = struct.unpack("<Ii", recv_exact(self.s, 8))
        if n > (1 << 24) or seq != self.in_seq:
            raise ValueError("bad frame header len=%d seqno=%d (want %d)" % (n, seq, self.in_seq))
        self.in_seq += 1
        return recv_exact(self.s, n)


def name_of(payload):
    cid = struct.unpack("<I", payload[:4])[0] if len(payload) >= 4 else None
    if cid in TCP_IDS:
        return TCP_IDS[cid]
    return "0x%08x" % cid if cid is not None else "(short)"


def sink(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4)
    say("sink listening on 127.0.0.1:%d" % port)
    while True:
        s, addr = ls.accept()
        s.settimeout(30)
        say("sink: connection from %s:%d" % addr)
        try:
            read_info(s)
            f = Framer(s)
            while True:
                p = f.recv()
                say("sink: frame %s (%d bytes)" % (name_of(p), len(p)))
                cid = struct.unpack("<I", p[:4])[0]
                if cid == TCP_CONNECT and len(p) == 12:
                    f.send(struct.pack("<I", TCP_CONNECTED) + p[4:12])
                    say("sink: answered tcp.connected id=%d" % struct.unpack("<q", p[4:12])[0])
        except (EOFError, ValueError, OSError) as e:
            say("sink: connection ended: %s" % e)
        s.close()


def socks(port, dest):
    host, dport = dest.rsplit(":", 1)
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(b"\x05\x01\x00")
    if recv_exact(s, 2) != b"\x05\x00":
        raise ValueError("SOCKS5 greeting refused")
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack(">H", int(dport)))
    rep = recv_exact(s, 10)
    say("SOCKS5 reply %s (%s)" % (rep.hex(), "succeeded" if rep[1] == 0 else "failed"))
    if rep[1] != 0:
        return 1
    read_info(s)
    f = Framer(s)
    cid = struct.unpack("<q", os.urandom(8))[0]
    f.send(struct.pack("<Iq", TCP_CONNECT, cid))
    p = f.recv()
    ok = p == struct.pack("<Iq", TCP_CONNECTED, cid)
    say("sent tcp.connect id=%d, got %s (%s)" % (cid, name_of(p), "match" if ok else "MISMATCH"))
    pid = struct.unpack("<q", os.urandom(8))[0]
    f.send(struct.pack("<Iq", TCP_PING, pid))
    p = f.recv()
    pong = p == struct.pack("<Iq", TCP_PONG, pid)
    say("sent tcp.ping id=%d, got %s (%s)" % (pid, name_of(p), "id matches" if pong else "unexpected"))
    return 0 if ok and pong else 1


def main(argv):
    try:
        if len(argv) == 2 and argv[0] == "sink":
            sink(int(argv[1]))
            return 0
        if len(argv) == 3 and argv[0] == "socks":
            return socks(int(argv[1]), argv[2])
    except (EOFError, ValueError, OSError) as e:
        say("error: %s" % e)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
