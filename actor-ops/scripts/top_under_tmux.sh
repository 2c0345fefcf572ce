#!/usr/bin/env bash
# Runs `actorctl top` in a real terminal under tmux against a node in its own OS process,
# captures the screen, checks it, and quits with `q`. Not part of CI (needs tmux):
#   bash actor-ops/scripts/top_under_tmux.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q -p actor-ops --bins --tests
target="${CARGO_TARGET_DIR:-target}/debug"
node_bin=$(ls -t "$target"/deps/os_processes-* | grep -v '\.d$' | head -1)
out=$(mktemp)
session="actorctl-top-$$"
# The node runs until its stdin closes (when `sleep` ends or this script is killed).
(sleep 60 | ACTOR_OPS_TEST_NODE=tmux1@127.0.0.1 "$node_bin" --exact node_main --nocapture \
    --test-threads 1 >"$out" 2>&1 &)
for _ in $(seq 50); do grep -q LISTEN "$out" && break; sleep 0.1; done
addr=$(grep -o 'LISTEN [0-9.:]*' "$out" | cut -d' ' -f2)
tmux new-session -d -s "$session" -x 150 -y 40 \
    "ACTORCTL_COOKIE=os-process-cookie $target/actorctl --node tmux1@127.0.0.1 --addr $addr top"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    tmux capture-pane -t "$session" -p | grep -q "tmux1@127.0.0.1" && break
    sleep 0.1
done
screen=$(tmux capture-pane -t "$session" -p)
echo "$screen"
grep -q "busiest mailboxes" <<<"$screen"
grep -q "backlog tmux1@127.0.0.1" <<<"$screen"
tmux send-keys -t "$session" q
for _ in $(seq 50); do tmux has-session -t "$session" 2>/dev/null || { echo "top: ok (quit on q)"; exit 0; }; sleep 0.1; done
echo "top did not quit on q" >&2
exit 1
