//! The ractor_cluster peer (W5, W6) lives in its own package, `benches/ractor-cluster-peer`,
//! with its own workspace and lock file, built on its own: ractor's `cluster` feature must not
//! reach this binary's local ractor lines (cargo unifies features across one build).
//!
//! The parent builds it once per invocation (`cargo build --release --manifest-path ...`, a
//! no-op when up to date) before the first ractor_cluster run; the bench child for a
//! `ractor_cluster` peer runs its binary, which is node A and starts its own node B, and
//! passes its `metric=value` lines through. `--quick` skips it (its first build takes minutes).

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::OnceLock;

/// The peer names this module runs.
pub const PEERS: [&str; 2] = ["ractor_cluster", "ractor_cluster-task"];

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ractor-cluster-peer")
}

fn target_dir() -> PathBuf {
    package_dir().join("target")
}

fn binary() -> PathBuf {
    target_dir().join("release").join("ractor-cluster-peer")
}

/// Whether `peer` is run by this module.
pub fn is_peer(peer: &str) -> bool {
    PEERS.contains(&peer)
}

/// Builds the peer once per invocation. `Err(why)` if the ractor_cluster peers are skipped.
fn ready(quick: bool) -> &'static Result<(), String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY.get_or_init(|| {
        if quick {
            return Err("--quick does not build the separate ractor-cluster-peer package".into());
        }
        let manifest = package_dir().join("Cargo.toml");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let had_binary = binary().exists();
        if !had_binary {
            println!(
                "# building the ractor_cluster peer: cargo build --release --manifest-path {} (a few minutes the first time)",
                manifest.display()
            );
        }
        let built = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status();
        match built {
            Ok(s) if s.success() => Ok(()),
            Ok(s) if had_binary => {
                println!("# warning: building the ractor_cluster peer failed ({s}); using the existing binary");
                Ok(())
            }
            Ok(s) => Err(format!("building {} failed ({s})", manifest.display())),
            Err(e) if had_binary => {
                println!("# warning: cannot run cargo ({e}); using the existing ractor_cluster peer binary");
                Ok(())
            }
            Err(e) => Err(format!("cannot run cargo to build {}: {e}", manifest.display())),
        }
    })
}

/// The parent's check before running `peer`: `false` (after a `# skipped` line, printed once
/// per invocation) if it is a ractor_cluster peer that cannot run.
pub fn available(peer: &str, quick: bool) -> bool {
    if !is_peer(peer) {
        return true;
    }
    static REPORTED: OnceLock<()> = OnceLock::new();
    match ready(quick) {
        Ok(()) => true,
        Err(why) => {
            REPORTED.get_or_init(|| println!("# skipped ractor_cluster: {why}"));
            false
        }
    }
}

/// The bench child for a ractor_cluster peer: runs the peer binary for `workload` and passes
/// its output through.
pub fn run_child(workload: &str, peer: &str, quick: bool) -> ExitCode {
    let placement = if peer.ends_with("-task") {
        "task"
    } else {
        "main"
    };
    let mut cmd = Command::new(binary());
    cmd.args([workload, placement]);
    if quick {
        cmd.arg("--quick");
    }
    match cmd
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
    {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("benches: ractor-cluster-peer {workload} {placement} exited with {s}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("benches: cannot run {}: {e}", binary().display());
            ExitCode::FAILURE
        }
    }
}
