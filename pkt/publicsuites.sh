#!/bin/sh
# publicsuites.sh runs the public packetdrill suites through `synack pkt run`
# and prints pass/fail/skip counts per directory. CI cannot reach the public
# repositories, so the figures in the README are recorded by hand with it.
#
# Usage: pkt/publicsuites.sh SUITES [SYNACK]
#
# SUITES is a directory holding copies of the suites, laid out as their
# repositories are (nothing fetched is committed here):
#   SUITES/linux/gtests/net/tcp/...   google/packetdrill
#   SUITES/gvisor/test/packetdrill    google/gvisor
#   SUITES/freebsd/...                freebsd-net/tcp-testsuite
# For example, from bare clones:
#   git --git-dir=packetdrill.git archive HEAD gtests/net | tar -x -C SUITES/linux
#   git --git-dir=tcp-testsuite.git archive HEAD | tar -x -C SUITES/freebsd
# SYNACK is the synack binary (default: built from this checkout into a
# temporary directory). Set VERBOSE=1 to print every script's result line;
# the per-script lines also go to SUITES/results-<suite>.txt.
#
# Every script runs unchanged, IPv4 (scripts named *-ipv6.pkt are left out),
# with --queue-outbound: outbound packets no '>' line took stay queued for
# the next '>' line, as packetdrill does (STRICT=1 leaves the flag out: an
# untaken packet then fails the script at the next inbound packet or call).
# FreeBSD's scripts also run with --lenient, which compares TCP options as
# a set and ignores window values. A SKIP is not a pass.
set -eu

suites=${1:?usage: publicsuites.sh SUITES [SYNACK]}
synack=${2:-}
if [ -z "$synack" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$(dirname "$0")/.." && go build -o "$tmp/synack" ./cmd/synack)
	synack=$tmp/synack
fi

# run SUITE DIR [FLAGS...]: runs the scripts directly in DIR (not in its
# subdirectories) and prints "SUITE DIR pass fail skip total".
run() {
	suite=$1 dir=$2
	shift 2
	files=$(find "$dir" -maxdepth 1 -name '*.pkt' ! -name '*-ipv6.pkt' | sort)
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086
	queue=--queue-outbound
	[ "${STRICT:-}" = 1 ] && queue=
	out=$("$synack" pkt run $queue "$@" $files 2>&1 || true)
	printf '%s\n' "$out" | grep -E '^(PASS|FAIL|SKIP) ' >>"$suites/results-$suite.txt" || true
	[ "${VERBOSE:-}" = 1 ] && printf '%s\n' "$out" | grep -E '^(PASS|FAIL|SKIP) '
	p=$(printf '%s\n' "$out" | grep -c '^PASS ' || true)
	f=$(printf '%s\n' "$out" | grep -c '^FAIL ' || true)
	s=$(printf '%s\n' "$out" | grep -c '^SKIP ' || true)
	printf '%-8s %-58s %4d %4d %4d %4d\n' "$suite" "${dir#"$suites"/}" "$p" "$f" "$s" $((p + f + s))
}

# walk SUITE ROOT [FLAGS...]: runs every directory under ROOT holding scripts.
walk() {
	suite=$1 root=$2
	shift 2
	[ -d "$root" ] || { echo "$suite: $root missing" >&2; return 0; }
	rm -f "$suites/results-$suite.txt"
	for d in $(find "$root" -type f -name '*.pkt' -exec dirname {} \; | sort -u); do
		run "$suite" "$d" "$@"
	done
}

printf '%-8s %-58s %4s %4s %4s %4s\n' suite directory pass fail skip all
walk linux "$suites/linux/gtests/net/tcp"
walk gvisor "$suites/gvisor/test/packetdrill" --tolerance_usecs=100000 # gVisor's packetdrill_test.sh tolerance (sockopts)
walk freebsd "$suites/freebsd" --lenient
for s in linux gvisor freebsd; do
	[ -f "$suites/results-$s.txt" ] || continue
	p=$(grep -c '^PASS ' "$suites/results-$s.txt" || true)
	f=$(grep -c '^FAIL ' "$suites/results-$s.txt" || true)
	k=$(grep -c '^SKIP ' "$suites/results-$s.txt" || true)
	printf '%-8s %-58s %4d %4d %4d %4d\n' "$s" TOTAL "$p" "$f" "$k" $((p + f + k))
done
