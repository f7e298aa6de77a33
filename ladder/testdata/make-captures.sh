#!/bin/bash
# make-captures.sh records the captures the ladder tests read: the Linux
# kernel's own TCP, seen by tcpdump and dumpcap, between two network
# namespaces joined by a veth pair (198.18.10.0/24, fd00:5ac::/64) and over
# a namespace's loopback. Run as root from this directory:
#
#	sudo ./make-captures.sh && go test ../ -run Capture -update
#
# It needs ip, tc (tbf: a token-bucket rate limit, which also queues and
# drops; this kernel has no netem), tcpdump, dumpcap and editcap (wireshark-common),
# curl and python3. Everything it starts is stopped by PID and the
# namespaces are deleted on exit. The captures differ from run to run (ISNs,
# ports, timing); after a rerun, regenerate the golden ladders with -update
# and check the differences by eye.
set -euo pipefail
cd "$(dirname "$0")"
out=$PWD

C=ladc$$ # client namespace
S=lads$$ # server namespace
pids=()
work=$(mktemp -d)

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns del "$C" 2>/dev/null || true
	ip netns del "$S" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

c() { ip netns exec "$C" "$@"; }
s() { ip netns exec "$S" "$@"; }

ip netns add "$C"
ip netns add "$S"
ip link add vc netns "$C" type veth peer name vs netns "$S"
c ip link set lo up
s ip link set lo up
c ip addr add 198.18.10.1/24 dev vc
s ip addr add 198.18.10.2/24 dev vs
c ip addr add fd00:5ac::1/64 dev vc nodad
s ip addr add fd00:5ac::2/64 dev vs nodad
c ip link set vc up
s ip link set vs up
c sysctl -qw net.ipv4.tcp_ecn=0
s sysctl -qw net.ipv4.tcp_ecn=0

# bg starts a command in the background and remembers its PID.
bg() {
	"$@" &
	pids+=($!)
}

# wait_listen NS PORT waits until something listens on PORT in NS.
wait_listen() {
	for _ in $(seq 100); do
		ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	echo "nothing listens on port $2 in $1" >&2
	return 1
}

# capture NS FILE ARGS… starts tcpdump (or dumpcap for a .pcapng) in NS and
# waits until it listens; stop_capture stops the last one.
capture() {
	local ns=$1 file=$2
	shift 2
	rm -f "$out/$file"
	if [[ $file == *.pcapng ]]; then
		bg ip netns exec "$ns" dumpcap -q -w "$work/$file" "$@"
	else
		bg ip netns exec "$ns" tcpdump -q -U --immediate-mode --time-stamp-precision=nano -w "$work/$file" "$@"
	fi
	cap_pid=$!
	cap_file=$file
	sleep 1.5
}
stop_capture() {
	sleep 0.5
	kill -INT "$cap_pid"
	wait "$cap_pid" 2>/dev/null || true
	mv "$work/$cap_file" "$out/$cap_file"
	chmod 644 "$out/$cap_file"
}

# A small HTTP/1.1 server: it answers with a Content-Length and waits for
# the client to close first (so the client ends in TIME-WAIT).
cat >"$work/serve.py" <<'EOF'
import socket, threading
bodies = {b"/": b"hello from the kernel\n", b"/big": b"x" * 300000}
def handle(c):
    req = b""
    while b"\r\n\r\n" not in req:
        b = c.recv(4096)
        if not b: break
        req += b
    path = req.split(b" ")[1] if req.count(b" ") >= 2 else b"/"
    body = bodies.get(path, b"not found\n")
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    while c.recv(65536): pass
    c.close()
l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("::", 8080)); l.listen(16)
while True:
    c, _ = l.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
EOF
bg ip netns exec "$S" python3 "$work/serve.py"
for _ in $(seq 50); do
	c curl --max-time 30 -s -o /dev/null http://198.18.10.2:8080/ && break
	sleep 0.2
done

# 1. An HTTP fetch over veth, seen from the client (Ethernet, pcap, ns
# timestamps) and at the same time from the server with -i any (Linux
# cooked v2). The client closes first.
capture "$S" http-any.pcap -i any tcp port 8080
any_pid=$cap_pid
capture "$C" http-veth.pcap -i vc tcp port 8080
c curl --max-time 30 -s -o /dev/null http://198.18.10.2:8080/
stop_capture
cap_pid=$any_pid cap_file=http-any.pcap stop_capture
# The same capture as pcapng.
editcap -F pcapng "$out/http-veth.pcap" "$out/http-veth.pcapng"

# 2. A refused connection over IPv6 (nothing listens on port 9), pcapng
# from dumpcap with two interfaces (veth and lo).
capture "$C" refused.pcapng -i vc -i lo -f "tcp port 9"
c curl --max-time 30 -s -o /dev/null "http://[fd00:5ac::2]:9/" || true
stop_capture

# 3. A half-close over the client namespace's loopback: the client sends
# its request and shuts down its side; the server answers after the
# client's FIN and closes.
cat >"$work/halfclose.py" <<'EOF'
import socket, sys, time
if sys.argv[1] == "server":
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", 7000)); l.listen(1)
    c, _ = l.accept()
    data = b""
    while True:
        b = c.recv(4096)
        if not b: break
        data += b
    time.sleep(0.05)
    c.sendall(b"got %d bytes after your FIN\n" % len(data))
    time.sleep(0.05)
    c.close()
else:
    c = socket.create_connection(("127.0.0.1", 7000))
    c.sendall(b"request, then FIN\n")
    c.shutdown(socket.SHUT_WR)
    while c.recv(4096): pass
    c.close()
EOF
bg ip netns exec "$C" python3 "$work/halfclose.py" server
srv=$!
wait_listen "$C" 7000
capture "$C" halfclose-lo.pcap -i lo tcp port 7000
c python3 "$work/halfclose.py" client
wait "$srv" || true
stop_capture

# 4. A simultaneous close: both ends send 3000 bytes and shut down at the
# same wall-clock instant; a 100 kbit/s rate limit each way holds each FIN
# behind the data for over 100 ms, so the FINs cross.
s tc qdisc add dev vs root tbf rate 100kbit burst 1600 latency 2s
c tc qdisc add dev vc root tbf rate 100kbit burst 1600 latency 2s
cat >"$work/simclose.py" <<'EOF'
import socket, sys, time
def close_at(c, t):
    time.sleep(max(0, t - time.time()))
    c.sendall(b"z" * 3000)
    c.shutdown(socket.SHUT_WR)
    while c.recv(4096): pass
    time.sleep(0.3)
    c.close()
if sys.argv[1] == "server":
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("198.18.10.2", 7001)); l.listen(1)
    c, _ = l.accept()
    t = float(c.recv(64).decode())
    close_at(c, t)
else:
    c = socket.create_connection(("198.18.10.2", 7001))
    t = time.time() + 1
    c.sendall(b"%.6f" % t)
    close_at(c, t)
EOF
bg ip netns exec "$S" python3 "$work/simclose.py" server
srv=$!
wait_listen "$S" 7001
capture "$C" simclose-veth.pcap -i vc tcp port 7001
c python3 "$work/simclose.py" client
wait "$srv" || true
stop_capture
s tc qdisc del dev vs root
c tc qdisc del dev vc root

# 5. A capture that starts in the middle of a connection: the server
# trickles 60 lines, one every 50 ms; the capture (-i any in the client
# namespace, as pcapng from dumpcap) starts after the handshake.
cat >"$work/trickle.py" <<'EOF'
import socket, sys, time
if sys.argv[1] == "server":
    l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("fd00:5ac::2", 7002)); l.listen(1)
    c, _ = l.accept()
    for i in range(60):
        c.sendall(b"line %d\n" % i); time.sleep(0.05)
    c.close()
else:
    c = socket.create_connection(("fd00:5ac::2", 7002))
    while c.recv(4096): pass
    c.close()
EOF
bg ip netns exec "$S" python3 "$work/trickle.py" server
srv=$!
wait_listen "$S" 7002
bg ip netns exec "$C" python3 "$work/trickle.py" client
cli=$!
for _ in $(seq 100); do
	c ss -Htn state established '( dport = :7002 )' | grep -q . && break
	sleep 0.05
done
sleep 0.3
rm -f "$out/midstream-any.pcapng"
bg ip netns exec "$C" dumpcap -q -i any -w "$work/midstream-any.pcapng" -f "tcp port 7002"
cap_pid=$! cap_file=midstream-any.pcapng
wait "$cli" || true
wait "$srv" || true
stop_capture

# 6. A lossy transfer: 300 kB from the server through a 20 Mbit/s rate
# limit with a 20 kB queue, which drops what does not fit; headers only
# (snapshot length 128).
s tc qdisc add dev vs root tbf rate 20mbit burst 10000 limit 20000
capture "$C" lossy-veth.pcap -s 128 -i vc tcp port 8080
c curl --max-time 30 -s -o /dev/null http://198.18.10.2:8080/big
stop_capture
s tc qdisc del dev vs root

# 7. A reused 4-tuple: two fetches from the same local port. The server
# (a small one that answers without a length and closes) closes first and
# holds the 4-tuple in TIME-WAIT; the second SYN reuses it. pcapng from
# the server side.
cat >"$work/once.py" <<'EOF'
import socket
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("198.18.10.2", 8081)); l.listen(4)
for _ in range(2):
    c, _ = l.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.0 200 OK\r\n\r\nhello\n")
    c.close()
EOF
bg ip netns exec "$S" python3 "$work/once.py"
srv=$!
wait_listen "$S" 8081
capture "$S" reuse-veth.pcapng -i vs -f "tcp port 8081"
c curl --max-time 30 -s -o /dev/null --local-port 40000 http://198.18.10.2:8081/
sleep 0.2
c curl --max-time 30 -s -o /dev/null --local-port 40000 http://198.18.10.2:8081/
wait "$srv" || true
stop_capture

# 8. Keep-alives: the client turns them on (idle 1 s, interval 1 s) and
# waits; the server says nothing for 3.5 s, then closes. Linux cooked v1
# (-y LINUX_SLL) from -i any in the client namespace.
cat >"$work/keepalive.py" <<'EOF'
import socket, sys, time
if sys.argv[1] == "server":
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("198.18.10.2", 7003)); l.listen(1)
    c, _ = l.accept()
    time.sleep(3.5)
    c.close()
else:
    c = socket.create_connection(("198.18.10.2", 7003))
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    while c.recv(4096): pass
    c.close()
EOF
bg ip netns exec "$S" python3 "$work/keepalive.py" server
srv=$!
wait_listen "$S" 7003
capture "$C" keepalive-any.pcap -y LINUX_SLL -i any tcp port 7003
c python3 "$work/keepalive.py" client
wait "$srv" || true
stop_capture

# 9. A zero window: the server's receive buffer is small and it reads
# nothing for 1.5 s while the client sends 200 kB; then it reads all.
# Headers only.
cat >"$work/zerowin.py" <<'EOF'
import socket, sys, time
if sys.argv[1] == "server":
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    l.bind(("198.18.10.2", 7004)); l.listen(1)
    c, _ = l.accept()
    time.sleep(1.5)
    while c.recv(4096): pass
    c.close()
else:
    c = socket.create_connection(("198.18.10.2", 7004))
    c.sendall(b"z" * 200000)
    c.shutdown(socket.SHUT_WR)
    while c.recv(4096): pass
    c.close()
EOF
bg ip netns exec "$S" python3 "$work/zerowin.py" server
srv=$!
wait_listen "$S" 7004
capture "$C" zerowin-veth.pcap -s 128 -i vc tcp port 7004
c python3 "$work/zerowin.py" client
wait "$srv" || true
stop_capture

ls -l "$out"/*.pcap "$out"/*.pcapng
