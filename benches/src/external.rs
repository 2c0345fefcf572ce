//! Peers that live in packages of their own, each with its own workspace, lock file and
//! target directory, built on its own: cargo unifies features across everything built
//! together, and these peers' features must not change how the others are built.
//!
//! - `ractor-cluster-peer/` (W5, W6): ractor's `cluster` feature must not reach the local
//!   ractor lines of this binary.
//! - `kameo-peer/` (W1-W4, W2b): kameo's default `tracing` feature turns on tokio's
//!   `tracing` feature, which would reach actor-core's, ractor's and raw tokio's lines.
//! - `actix-peer/` (W1-W4, W2b): actix 0.13 with its defaults, on its own single-threaded
//!   `System` as its users run it (peer `actix-1t`).
//!
//! The parent builds a package once per invocation (`cargo build --release --manifest-path
//! ...`, a no-op when up to date) before its first run; the bench child for such a peer runs
//! the package's binary as `<binary> <workload> <main|task|1t> [--quick]` and passes its
//! `metric=value` lines through. `--quick` skips them (a first build takes minutes; CI checks
//! that the harness runs, not the peers).

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::OnceLock;

/// One peer package.
struct Package {
    /// Directory under `benches/`, also the binary's name.
    dir: &'static str,
    /// Peer name without the placement suffix.
    base: &'static str,
}

const PACKAGES: [Package; 3] = [
    Package {
        dir: "ractor-cluster-peer",
        base: "ractor_cluster",
    },
    Package {
        dir: "kameo-peer",
        base: "kameo",
    },
    Package {
        dir: "actix-peer",
        base: "actix",
    },
];

/// The package index that runs `peer`, if any.
fn package_of(peer: &str) -> Option<usize> {
    let base = crate::split_peer(peer).0;
    PACKAGES.iter().position(|p| p.base == base)
}

fn package_dir(i: usize) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(PACKAGES[i].dir)
}

fn target_dir(i: usize) -> PathBuf {
    package_dir(i).join("target")
}

fn binary(i: usize) -> PathBuf {
    target_dir(i).join("release").join(PACKAGES[i].dir)
}

/// Whether `peer` is run by this module.
pub fn is_peer(peer: &str) -> bool {
    package_of(peer).is_some()
}

/// Builds package `i` once per invocation. `Err(why)` if its peers are skipped.
fn ready(i: usize, quick: bool) -> &'static Result<(), String> {
    static READY: [OnceLock<Result<(), String>>; PACKAGES.len()] =
        [const { OnceLock::new() }; PACKAGES.len()];
    READY[i].get_or_init(|| {
        if quick {
            return Err(format!(
                "--quick does not build the separate {} package",
                PACKAGES[i].dir
            ));
        }
        let manifest = package_dir(i).join("Cargo.toml");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let had_binary = binary(i).exists();
        if !had_binary {
            println!(
                "# building the {} peer: cargo build --release --manifest-path {} (minutes the first time)",
                PACKAGES[i].base,
                manifest.display()
            );
        }
        let built = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target_dir(i))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status();
        match built {
            Ok(s) if s.success() => Ok(()),
            Ok(s) if had_binary => {
                println!(
                    "# warning: building the {} peer failed ({s}); using the existing binary",
                    PACKAGES[i].base
                );
                Ok(())
            }
            Ok(s) => Err(format!("building {} failed ({s})", manifest.display())),
            Err(e) if had_binary => {
                println!(
                    "# warning: cannot run cargo ({e}); using the existing {} peer binary",
                    PACKAGES[i].base
                );
                Ok(())
            }
            Err(e) => Err(format!("cannot run cargo to build {}: {e}", manifest.display())),
        }
    })
}

/// The parent's check before running `peer`: `false` (after a `# skipped` line, printed once
/// per package and invocation) if it is an external peer that cannot run.
pub fn available(peer: &str, quick: bool) -> bool {
    let Some(i) = package_of(peer) else {
        return true;
    };
    static REPORTED: [OnceLock<()>; PACKAGES.len()] = [const { OnceLock::new() }; PACKAGES.len()];
    match ready(i, quick) {
        Ok(()) => true,
        Err(why) => {
            REPORTED[i].get_or_init(|| println!("# skipped {}: {why}", PACKAGES[i].base));
            false
        }
    }
}

/// The bench child for an external peer: runs its package's binary for `workload` and passes
/// its output through.
pub fn run_child(workload: &str, peer: &str, quick: bool) -> ExitCode {
    let Some(i) = package_of(peer) else {
        return ExitCode::from(2);
    };
    let placement = match crate::split_peer(peer).1 {
        crate::Placement::Main => "main",
        crate::Placement::Task => "task",
        crate::Placement::OneThread => "1t",
    };
    let mut cmd = Command::new(binary(i));
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
            eprintln!(
                "benches: {} {workload} {placement} exited with {s}",
                PACKAGES[i].dir
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("benches: cannot run {}: {e}", binary(i).display());
            ExitCode::FAILURE
        }
    }
}
