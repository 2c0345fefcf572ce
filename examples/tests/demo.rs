//! Runs the `demo` binary (three OS processes) and checks the facts of its timeline: it
//! completes by itself, a write on the cut-off minority node is refused, the majority serves,
//! the healed node serves again, the governors of the SIGKILLed node answer again from the
//! survivors (RTO under a generous bound), their receipts and state intact.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The timeline's `key=value` facts (the last value wins).
fn facts(out: &str) -> HashMap<String, String> {
    out.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_end_matches(',').to_string()))
        .collect()
}

fn ms(f: &HashMap<String, String>, k: &str) -> u64 {
    f.get(k)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {k} in the timeline"))
}

#[tokio::test]
async fn the_demo_timeline_holds() {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_demo"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The demo gives up by itself after 60 s; this bound only keeps a hung test finite.
    let out = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("the demo exits by itself")
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "exit status {:?}", out.status);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        assert!(line.starts_with("[t+"), "unstamped line {line:?}");
    }
    let f = facts(&text);
    for (k, v) in [
        ("demo_ok", "true"),
        ("minority_write_refused", "true"),
        ("majority_write_ok", "true"),
        ("served_after_heal", "true"),
        ("seen", "true"),
        ("receipts_intact", "true"),
        ("state_intact", "true"),
    ] {
        assert_eq!(f.get(k).map(String::as_str), Some(v), "fact {k}");
    }
    assert!(text.contains("no quorum"), "the refusal names the cause");
    let keys = ms(&f, "failover_keys");
    assert!(keys > 0);
    assert_eq!(ms(&f, "answered"), keys, "every governor answers again");
    assert!(ms(&f, "rto_max_ms") < 5_000, "rto_max_ms");
    assert!(ms(&f, "rto_p50_ms") <= ms(&f, "rto_max_ms"));
    assert!(ms(&f, "heal_to_served_ms") < 10_000);
    assert!(ms(&f, "receipts_now") >= ms(&f, "receipts_before_kill"));
    assert!(ms(&f, "total_ms") < 30_000, "exits in under 30 s");
    for t in ["acme", "globex", "initech"] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(t) && l.contains("->")),
            "a receipt row for {t}"
        );
    }
}
