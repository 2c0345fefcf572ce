//! `cluster`: the demo's three-node governors cluster without the script, for a person to
//! poke at with the operator tools. Starts node `a` in this process and `b` and `c` as child
//! processes (each its own journal in a temporary directory, receipts replicated on all three),
//! prints the nodes' addresses and the cookie, and stays up until Ctrl-C.
//!
//! Run with `cargo run --release -p examples --bin cluster`. Tenants: `acme`, `globex`,
//! `initech`; governors are reached by key (`"acme/main"` for billing, ...) through the
//! entity layer. The nodes do not connect on first use (`auto_connect = false`): connect an
//! operator node explicitly to the printed addresses with the printed cookie.

use examples::cluster3::{child_args, child_main, fresh_cookie, start_cluster, TENANTS};
use std::time::Duration;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some((name, dir)) = child_args(&args) {
        return child_main(&name, &dir).await;
    }
    let root = tempfile::tempdir().expect("a temporary directory");
    let cookie = fresh_cookie();
    let (a, children) = start_cluster(&cookie, root.path()).await;
    println!("cluster up (Ctrl-C stops it)");
    println!("cookie={cookie}");
    println!(
        "node={} addr={} pid={} (this process)",
        a.dist.name(),
        a.dist.local_addr(),
        std::process::id()
    );
    for ch in &children {
        println!("node={} addr={} pid={}", ch.name, ch.addr, ch.pid());
    }
    println!("tenants={}", TENANTS.join(","));
    println!("journals={}", root.path().display());
    let _ = tokio::signal::ctrl_c().await;
    println!("stopping");
    for ch in children {
        ch.stop(Duration::from_secs(3)).await;
    }
    a.dist.shutdown();
}
