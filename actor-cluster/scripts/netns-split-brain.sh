#!/usr/bin/env bash
# A split-brain scenario under Linux network namespaces (run as root):
#
#   1. builds 5 namespaces asb1..asb5 (10.200.0.1..5/24), each with a veth whose other end
#      sits on a bridge inside a sixth namespace, asb-hub: nothing is added to the host's own
#      namespace, and no packet leaves the namespaces;
#   2. starts actor-cluster's `cluster_node` example in each (keep-majority, a singleton);
#   3. once all 5 are up and quorate, cuts {1,2,3} | {4,5} with nftables drop rules in each
#      node's namespace (a silent drop: no RST, no ICMP), and prints what each side decided
#      and where the singleton runs (exactly one instance, on the majority);
#   4. heals (deletes the rules), waits until all 5 are quorate with exactly one singleton
#      instance, and prints the picture again;
#   5. stops the nodes (SIGTERM: graceful leave) and deletes every namespace, also on error
#      or Ctrl-C (trap).
#
# Usage: sudo actor-cluster/scripts/netns-split-brain.sh
# Environment: BIN (the cluster_node binary; built with cargo when unset), TICK_MS (net tick
# time, default 1000), LOGS (log directory, default a fresh temporary one, kept), WAIT (seconds
# to wait for each phase, default 30).
# Needs: iproute2 (ip netns, veth, bridge), nftables (nft).
set -euo pipefail

N=5
PREFIX=asb
HUB=${PREFIX}-hub
NET=10.200.0
PORT=4370
TICK_MS=${TICK_MS:-1000}
WAIT=${WAIT:-30}
MAJORITY=(1 2 3)
MINORITY=(4 5)

if [[ $(id -u) -ne 0 ]]; then
    echo "run as root (network namespaces and nftables need it)" >&2
    exit 1
fi
for tool in ip nft; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y iproute2 nftables)" >&2; exit 1; }
done

if [[ -z "${BIN:-}" ]]; then
    here=$(cd "$(dirname "$0")/../.." && pwd)
    echo "building cluster_node ..."
    (cd "$here" && cargo build -q -p actor-cluster --example cluster_node)
    target=${CARGO_TARGET_DIR:-$here/target}
    BIN=$target/debug/examples/cluster_node
fi
[[ -x "$BIN" ]] || { echo "no binary at $BIN" >&2; exit 1; }
LOGS=${LOGS:-$(mktemp -d /tmp/netns-split-brain.XXXXXX)}
mkdir -p "$LOGS"

PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    for i in $(seq $N); do ip netns del "$PREFIX$i" 2>/dev/null; done
    ip netns del "$HUB" 2>/dev/null
    echo "cleaned up: namespaces removed; logs in $LOGS"
}
trap cleanup EXIT INT TERM

ns() { ip netns exec "$1" "${@:2}"; }

# --- the network -----------------------------------------------------------------------
ip netns add "$HUB"
ns "$HUB" ip link set lo up
ns "$HUB" ip link add br0 type bridge
ns "$HUB" ip link set br0 up
for i in $(seq $N); do
    n=$PREFIX$i
    ip netns add "$n"
    ns "$n" ip link set lo up
    # Created inside the node's namespace, the hub end moved to the hub: never in the host's.
    ns "$n" ip link add eth0 type veth peer name "v$i"
    ns "$n" ip link set "v$i" netns "$HUB"
    ns "$n" ip addr add "$NET.$i/24" dev eth0
    ns "$n" ip link set eth0 up
    ns "$HUB" ip link set "v$i" master br0
    ns "$HUB" ip link set "v$i" up
done

# --- the nodes -------------------------------------------------------------------------
for i in $(seq $N); do
    seeds=()
    for j in $(seq $N); do
        [[ $j -ne $i ]] && seeds+=("n$j@$NET.$j=$NET.$j:$PORT")
    done
    TICK_MS=$TICK_MS ns "$PREFIX$i" "$BIN" "$i" "$NET.$i:$PORT" "${seeds[@]}" >"$LOGS/n$i.log" 2>&1 &
    PIDS+=($!)
done

last_status() { grep ' status ' "$LOGS/n$1.log" | tail -1; }

# Waits until `check i` holds for every i in the list, at most WAIT seconds.
wait_all() {
    local what=$1 check=$2; shift 2
    local deadline=$((SECONDS + WAIT))
    for i in "$@"; do
        until $check "$i"; do
            if ((SECONDS >= deadline)); then
                echo "TIMEOUT waiting for: $what (n$i)"; last_status "$i"; return 1
            fi
            sleep 0.2
        done
    done
    echo "ok: $what"
}

whole() { last_status "$1" | grep -q "quorum=Quorate side=\[\"n1@$NET.1\", \"n2@$NET.2\", \"n3@$NET.3\", \"n4@$NET.4\", \"n5@$NET.5\"\]"; }
decided() { grep -q " decided $2 " "$LOGS/n$1.log"; }
decided_keep() { decided "$1" Keep; }
decided_down() { decided "$1" Down; }
not_quorate() { last_status "$1" | grep -q "quorum=Minority"; }

live_count() { for i in $(seq $N); do last_status "$i"; done | grep -c 'local=true' || true; }

# Waits until exactly one node hosts the singleton, on one of the nodes given.
wait_one_instance() {
    local what=$1; shift
    local deadline=$((SECONDS + WAIT))
    while :; do
        local hosts=""
        for i in "$@"; do last_status "$i" | grep -q 'local=true' && hosts+=" n$i"; done
        if [[ $(live_count) -eq 1 && -n $hosts ]]; then echo "ok: $what (on$hosts)"; return 0; fi
        if ((SECONDS >= deadline)); then echo "TIMEOUT waiting for: $what"; return 1; fi
        sleep 0.2
    done
}

picture() {
    echo "--- $1"
    for i in $(seq $N); do last_status "$i"; done
}

wait_all "all 5 nodes up and quorate" whole $(seq $N)
picture "formed"

# --- the cut: {1,2,3} | {4,5}, silent drops on both sides ------------------------------
echo "cutting {${MAJORITY[*]}} | {${MINORITY[*]}} at $(date +%T.%N | cut -c1-12)"
cut_side() {
    local i=$1; shift
    local others
    others=$(printf "$NET.%s, " "$@"); others=${others%, }
    ns "$PREFIX$i" nft -f - <<EOF
table inet splitbrain {
    chain input { type filter hook input priority 0; ip saddr { $others } drop; }
    chain output { type filter hook output priority 0; ip daddr { $others } drop; }
}
EOF
}
for i in "${MAJORITY[@]}"; do cut_side "$i" "${MINORITY[@]}"; done
for i in "${MINORITY[@]}"; do cut_side "$i" "${MAJORITY[@]}"; done

wait_all "majority decided Keep" decided_keep "${MAJORITY[@]}"
wait_all "minority decided Down (read-only)" decided_down "${MINORITY[@]}"
wait_all "minority reports Minority" not_quorate "${MINORITY[@]}"
wait_one_instance "one singleton instance, on the majority" "${MAJORITY[@]}"
picture "cut"
echo "decisions:"
grep -h ' decided ' "$LOGS"/n*.log
echo "singleton:"
grep -h ' singleton ' "$LOGS"/n*.log

# --- the heal ----------------------------------------------------------------------------
echo "healing at $(date +%T.%N | cut -c1-12)"
for i in $(seq $N); do ns "$PREFIX$i" nft delete table inet splitbrain; done
wait_all "all 5 quorate again" whole $(seq $N)
wait_one_instance "one singleton instance after the heal" $(seq $N)
picture "healed"
echo "singleton (all events):"
grep -h ' singleton ' "$LOGS"/n*.log
