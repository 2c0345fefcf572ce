//! Crash test: a child process streams acknowledged appends and is killed with SIGKILL; every
//! receipt it acknowledged is in the journal afterwards.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use actor_journal::{JournalConfig, JournalStore, RedbJournal};
use common::{key, receipt};

const CHILD_ENV: &str = "ACTOR_JOURNAL_CRASH_CHILD_DIR";
const WRITERS: u64 = 16;
/// The parent kills the child after this many acknowledgements.
const KILL_AFTER: usize = 3_000;

/// The child's side: runs only when re-executed by the parent with the data directory in the
/// environment. Appends forever from 16 tasks and prints `acked <writer> <seq>` after each
/// append resolves.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let journal = Arc::new(RedbJournal::open(JournalConfig::new(dir)).unwrap());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for w in 0..WRITERS {
            let (journal, tx) = (journal.clone(), tx.clone());
            tokio::spawn(async move {
                let k = key(&format!("w{w}"));
                journal.promise(&k, 1).await.unwrap();
                for seq in 1.. {
                    journal.append(receipt(&k, "t", 1, seq, seq)).await.unwrap();
                    if tx.send((w, seq)).is_err() {
                        return;
                    }
                }
            });
        }
        let mut out = std::io::stdout().lock();
        while let Some((w, seq)) = rx.recv().await {
            writeln!(out, "acked {w} {seq}").unwrap();
            out.flush().unwrap();
        }
    });
}

#[test]
fn every_acknowledged_receipt_survives_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = vec![0u64; WRITERS as usize];
    let mut count = 0;
    let mut killed = false;
    // Read to the end: lines printed before the kill are acknowledgements too.
    while let Some(Ok(line)) = lines.next() {
        // The test harness's own "test crash_child ... " may precede the first ack on its line.
        let Some(at) = line.find("acked ") else {
            continue;
        };
        let rest = &line[at + "acked ".len()..];
        let mut parts = rest.split(' ').map(|p| p.parse::<u64>().unwrap());
        let (w, seq) = (parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(
            seq,
            acked[w as usize] + 1,
            "acks of one writer come in order"
        );
        acked[w as usize] = seq;
        count += 1;
        if count == KILL_AFTER && !killed {
            child.kill().unwrap(); // SIGKILL
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        killed,
        "the child ended before {KILL_AFTER} acks: {status:?}"
    );
    assert!(!status.success());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let journal = RedbJournal::open(JournalConfig::new(dir.path())).unwrap();
        for w in 0..WRITERS {
            let k = key(&format!("w{w}"));
            let state = journal.last_state(&k).await.unwrap();
            let upto = acked[w as usize];
            assert!(
                state.last_seq >= upto,
                "writer {w}: {upto} acknowledged, {} found",
                state.last_seq
            );
            // Every acknowledged receipt is there, exactly as written.
            for (i, r) in state.entries.iter().take(upto as usize).enumerate() {
                let seq = i as u64 + 1;
                assert_eq!(r, &receipt(&k, "t", 1, seq, seq));
            }
            assert_eq!(state.entries.len() as u64, state.last_seq);
        }
    });
}
