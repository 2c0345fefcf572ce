//! Nodes that dial each other at the same moment (explicit connects crossing) end up with
//! exactly one connection per pair, every time, and every connect reports success.
mod common;
use common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_connects_always_leave_a_full_mesh() {
    for round in 0..20 {
        let ns = [
            start(&format!("r{round}a@127.0.0.1")).await,
            start(&format!("r{round}b@127.0.0.1")).await,
            start(&format!("r{round}c@127.0.0.1")).await,
        ];
        let (x, y, z) = tokio::join!(
            ns[0].connect(ns[1].name(), ns[1].local_addr()),
            ns[1].connect(ns[2].name(), ns[2].local_addr()),
            ns[2].connect(ns[0].name(), ns[0].local_addr()),
        );
        for (i, r) in [x, y, z].iter().enumerate() {
            if let Err(e) = r {
                eprintln!("round {round}: connect {i}: {e:?}");
            }
        }
        let (x, y) = tokio::join!(
            ns[1].connect(ns[0].name(), ns[0].local_addr()),
            ns[0].connect(ns[1].name(), ns[1].local_addr()),
        );
        assert!(x.is_ok() && y.is_ok(), "round {round}: {x:?} {y:?}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let counts: Vec<usize> = ns.iter().map(|n| n.nodes().len()).collect();
            if counts.iter().all(|c| *c == 2) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("round {round}: mesh incomplete: {counts:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for n in &ns {
            n.shutdown();
        }
    }
}
