//! The workload table: ids, peers and metrics with their units (`WORKLOADS.md`).

/// One workload: its id, the peers that run it, and its metrics with their units.
pub(crate) struct Workload {
    pub(crate) id: &'static str,
    pub(crate) peers: &'static [&'static str],
    pub(crate) metrics: &'static [(&'static str, &'static str)],
}

/// Every workload of `WORKLOADS.md` this harness runs, in the order they run.
pub(crate) const WORKLOADS: &[Workload] = &[
    Workload {
        id: "W1",
        peers: &[
            "actor-core",
            "ractor",
            "kameo",
            "actix-1t",
            "actor-core-task",
            "ractor-task",
            "kameo-task",
            "actor-core-1t",
            "raw-tokio",
            "raw-tokio-1t",
        ],
        metrics: &[
            ("spawn_stop_per_actor", "us"),
            ("spawn_per_actor", "us"),
            ("rss_per_actor", "bytes"),
        ],
    },
    Workload {
        id: "W2",
        peers: &[
            "actor-core",
            "ractor",
            "kameo",
            "actix-1t",
            "actor-core-task",
            "ractor-task",
            "kameo-task",
            "actor-core-1t",
        ],
        metrics: &[("throughput", "msg/s")],
    },
    // W2b: 8 sender tasks to one actor.
    Workload {
        id: "W2b",
        peers: &[
            "actor-core",
            "ractor",
            "kameo",
            "actix-1t",
            "raw-tokio",
            "actor-core-task",
        ],
        metrics: &[("throughput", "msg/s")],
    },
    Workload {
        id: "W3",
        peers: &[
            "actor-core",
            "ractor",
            "kameo",
            "actor-core-task",
            "ractor-task",
            "kameo-task",
            "actor-core-1t",
            "ractor-1t",
            "kameo-1t",
            "actix-1t",
        ],
        metrics: &[
            ("mean", "ns"),
            ("p50", "ns"),
            ("p99", "ns"),
            ("throughput", "req/s"),
        ],
    },
    Workload {
        id: "W4",
        peers: &[
            "actor-core",
            "ractor",
            "kameo",
            "actix-1t",
            "actor-core-task",
            "ractor-task",
            "kameo-task",
            "actor-core-1t",
        ],
        metrics: &[("throughput", "hops/s")],
    },
    Workload {
        id: "W7a",
        peers: &["raw-tokio", "raw-tokio-task"],
        metrics: &[("throughput", "msg/s")],
    },
    // W7d: the floor under an ask, a tokio mpsc request carrying a oneshot reply sender.
    Workload {
        id: "W7d",
        peers: &["raw-tokio", "raw-tokio-task", "raw-tokio-1t"],
        metrics: &[
            ("mean", "ns"),
            ("p50", "ns"),
            ("p99", "ns"),
            ("throughput", "req/s"),
        ],
    },
    Workload {
        id: "W8",
        peers: &["statem", "statem-task"],
        metrics: &[("mean", "ns"), ("p50", "ns"), ("p99", "ns")],
    },
    // W9 has no ractor peer: ractor has no gproc-style registry.
    Workload {
        id: "W9",
        peers: &["actor-registry", "actor-registry-task"],
        metrics: &[
            ("register", "ops/s"),
            ("where", "ops/s"),
            ("unregister", "ops/s"),
            ("call_by_ref", "calls/s"),
            ("call_via", "calls/s"),
        ],
    },
    // Distribution: two OS processes on 127.0.0.1 (dist_peer.rs, external.rs).
    Workload {
        id: "W5",
        peers: &[
            "actor-dist",
            "ractor_cluster",
            "actor-dist-task",
            "ractor_cluster-task",
        ],
        metrics: &[("throughput", "msg/s")],
    },
    Workload {
        id: "W6",
        peers: &[
            "actor-dist",
            "ractor_cluster",
            "actor-dist-task",
            "ractor_cluster-task",
        ],
        metrics: &[("mean", "us"), ("p50", "us"), ("p99", "us")],
    },
    Workload {
        id: "W7b",
        peers: &["raw-tokio"],
        metrics: &[("throughput", "frames/s")],
    },
    Workload {
        id: "W7c",
        peers: &["raw-tokio", "raw-tokio-task"],
        metrics: &[("mean", "us"), ("p50", "us"), ("p99", "us")],
    },
    // W10: three OS processes (registry_global.rs); no ractor peer.
    Workload {
        id: "W10",
        peers: &["actor-registry", "actor-registry-task", "actor-registry-1m"],
        metrics: &[("mean", "us"), ("p50", "us"), ("p99", "us")],
    },
    Workload {
        id: "W11",
        peers: &["actor-dist", "actor-dist-task"],
        metrics: &[("p50", "us"), ("p99", "us"), ("throughput", "spawns/s")],
    },
    // W16: entity activation and warm calls by key, three OS processes (entities.rs); the
    // bench's 2-state machine, then the entitlement governor of `examples` (kinds.rs).
    Workload {
        id: "W16",
        peers: &["actor-entity", "entitlement"],
        metrics: &[
            ("activate_p50", "us"),
            ("activate_p99", "us"),
            ("activations", "per_s"),
            ("spread", "ratio"),
            ("warm_call_p50", "us"),
            ("warm_call_p99", "us"),
        ],
    },
    // W17 through the entity layer: transitions of 64 entities, local and replicated
    // (receipts.rs).
    Workload {
        id: "W17",
        peers: &[
            "actor-entity-local",
            "entitlement-local",
            "actor-entity-replicated",
            "entitlement-replicated",
        ],
        metrics: &[("receipts", "per_s"), ("ack_p50", "ms"), ("ack_p99", "ms")],
    },
    // W18: failover of 1,000 entities of a node killed with SIGKILL (failover.rs).
    Workload {
        id: "W18",
        peers: &["actor-entity", "entitlement"],
        metrics: &[
            ("rto_p50", "ms"),
            ("rto_max", "ms"),
            ("receipts_missing", "count"),
            ("states_wrong", "count"),
            ("unanswered", "count"),
            ("nodedown", "ms"),
        ],
    },
    Workload {
        id: "W12",
        peers: &["actor-dist"],
        metrics: &[
            ("nodedown_min", "ms"),
            ("nodedown_median", "ms"),
            ("nodedown_max", "ms"),
            ("nodedown_min_ticks", "ticks"),
            ("nodedown_max_ticks", "ticks"),
            ("call_failed_median", "ms"),
            ("call_failed_after_down_max", "ms"),
            ("trials_in_range", "count"),
            ("trials", "count"),
        ],
    },
    // W13: head-of-line blocking across a node link; W20: pre-authentication flood.
    Workload {
        id: "W13",
        peers: &["actor-dist"],
        metrics: &[
            ("bulk_call_p50", "us"),
            ("bulk_call_p99", "us"),
            ("base_call_p50", "us"),
            ("base_call_p99", "us"),
            ("floor_call_p50", "us"),
            ("floor_call_p99", "us"),
            ("calls_failed", "count"),
            ("bulk_throughput", "MB/s"),
            ("nodedowns", "count"),
        ],
    },
    Workload {
        id: "W20",
        peers: &["actor-dist"],
        metrics: &[("reconnect_clean", "ms"), ("reconnect_flood", "ms")],
    },
    // W21: five node processes, partitions through proxies (split_brain.rs).
    Workload {
        id: "W21",
        peers: &["silent", "one-way", "flapping"],
        metrics: &[
            ("minority_read_only_after", "ms"),
            ("agreed_after", "ms"),
            ("writable_after_heal", "ms"),
            ("double_quorate", "count"),
        ],
    },
    // W19: cluster formation, N node processes each told one seed (formation.rs).
    Workload {
        id: "W19",
        peers: &[
            "actor-cluster-10",
            "actor-cluster-25",
            "actor-cluster-50",
            "actor-cluster-100",
        ],
        metrics: &[("formation", "s"), ("rss_per_node", "MiB")],
    },
    // W14: N = 10,000 and N = 100,000 children, each in a fresh process (supervision.rs).
    Workload {
        id: "W14",
        peers: &["actor-core-10k", "actor-core-100k"],
        metrics: &[("start_per_child", "us"), ("terminate_per_child", "us")],
    },
    // W15: local (1,000,000 watchers) and across a node link (100,000 watchers).
    Workload {
        id: "W15",
        peers: &["actor-core", "actor-dist"],
        metrics: &[
            ("held_per_watcher", "bytes"),
            ("target_monitors_after", "count"),
        ],
    },
];

/// Metrics that only some peers of workload `id` report (no error when one is missing).
pub(crate) fn optional_metrics(id: &str) -> &'static [(&'static str, &'static str)] {
    match id {
        // kameo's default mailbox is bounded (64); it also reports an unbounded one.
        "W2" | "W2b" => &[("throughput_unbounded_mailbox", "msg/s")],
        _ => &[],
    }
}
