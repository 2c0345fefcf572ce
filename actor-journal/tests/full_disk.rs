//! A full disk refuses writes with a typed error, leaves nothing partial, and writes resume
//! once space is freed.

mod common;

use std::process::Command;
use std::sync::Arc;

use actor_journal::{
    EntityKey, FaultInjector, FaultKind, JournalConfig, JournalError, JournalStore, RedbJournal,
};
use common::{key, receipt, temp_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_full_disk_refuses_a_whole_group_and_recovers() {
    let (_dir, mut config) = temp_config();
    let faults = FaultInjector::new();
    config.faults = Some(faults.clone());
    let journal = Arc::new(RedbJournal::open(config).unwrap());
    let keys: Vec<EntityKey> = (0..8).map(|n| key(&format!("k{n}"))).collect();
    for k in &keys {
        journal.promise(k, 1).await.unwrap();
        for seq in 1..=5 {
            journal.append(receipt(k, "t", 1, seq, seq)).await.unwrap();
        }
    }

    faults.fail_writes(FaultKind::NoSpace);
    let mut tasks = Vec::new();
    for k in keys.clone() {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            journal.append(receipt(&k, "t", 1, 6, 6)).await
        }));
    }
    for task in tasks {
        match task.await.unwrap() {
            Err(JournalError::Full) => {}
            other => panic!("append on a full disk: {other:?}"),
        }
    }
    assert!(matches!(
        journal.promise(&keys[0], 2).await,
        Err(JournalError::Full)
    ));
    assert!(faults.injected() > 0);
    assert!(journal.stats().failed_commits >= 1);

    faults.heal();
    // Nothing of the refused writes is visible: every key stops at 5, epoch 1 still promised.
    for k in &keys {
        let state = journal.last_state(k).await.unwrap();
        assert_eq!((state.promised, state.last_seq), (1, 5), "{k}");
        assert_eq!(state.entries.len(), 5);
    }
    assert_eq!(
        journal
            .by_tenant("t", 0..u64::MAX, 1000)
            .await
            .unwrap()
            .len(),
        40
    );
    // Writes resume at the sequence number that was refused.
    for k in &keys {
        journal.append(receipt(k, "t", 1, 6, 6)).await.unwrap();
    }
    assert_eq!(journal.last_state(&keys[3]).await.unwrap().last_seq, 6);
}

#[tokio::test]
async fn an_injected_io_error_is_reported_as_io() {
    let (_dir, mut config) = temp_config();
    let faults = FaultInjector::new();
    config.faults = Some(faults.clone());
    let journal = RedbJournal::open(config).unwrap();
    let k = key("io");
    faults.fail_writes(FaultKind::Io);
    match journal.promise(&k, 1).await {
        Err(JournalError::Io(err)) => assert_eq!(err.raw_os_error(), Some(5)),
        other => panic!("{other:?}"),
    }
    faults.heal();
    assert_eq!(journal.promise(&k, 1).await.unwrap().promised, 1);
}

/// A real full file system: a 2 MiB tmpfs. Needs the right to mount (root); skipped without.
#[tokio::test]
async fn a_real_full_tmpfs_refuses_appends_with_full() {
    let mount_point = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(mount_point.path())
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount_point.path().to_owned());

    // A filler file, deleted later to free space.
    let filler = mount_point.path().join("filler");
    std::fs::write(&filler, vec![0u8; 256 * 1024]).unwrap();
    let mut config = JournalConfig::new(mount_point.path().join("journal"));
    config.verify_on_open = true;
    let journal = RedbJournal::open(config).unwrap();
    let k = key("big");
    journal.promise(&k, 1).await.unwrap();
    let mut acked = 0;
    let refusal = loop {
        let mut r = receipt(&k, "t", 1, acked + 1, acked + 1);
        r.event = vec![acked as u8; 16 * 1024];
        match journal.append(r).await {
            Ok(()) => acked += 1,
            Err(err) => break err,
        }
        assert!(acked < 1000, "a 2 MiB file system never filled up");
    };
    assert!(matches!(refusal, JournalError::Full), "{refusal:?}");
    assert!(acked > 0);

    std::fs::remove_file(&filler).unwrap();
    let state = journal.last_state(&k).await.unwrap();
    assert_eq!(state.last_seq, acked);
    assert!(state.entries.iter().all(|r| r.event.len() == 16 * 1024));
    let mut next = receipt(&k, "t", 1, acked + 1, 0);
    next.event = vec![1; 1024];
    journal.append(next).await.unwrap();
    journal.close().await;
}
