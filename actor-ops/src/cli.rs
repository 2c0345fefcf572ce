//! `actorctl`: arguments, commands and output (a table by default, JSON with `--json`).
//!
//! Exit codes: 0 success; 1 the command ran and found a problem (a node unhealthy or silent,
//! a remote error, `ping` unanswered); 2 bad usage or no cookie; 3 the node refused the
//! cookie; 4 no node answered.

use crate::client::{load_cookie, parse_pid, CliError, Client, Target};
use crate::protocol::*;
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Inspect and operate a running cluster: joins as a hidden node with the cookie.
#[derive(Parser, Debug)]
#[command(name = "actorctl", version)]
pub struct Args {
    /// A node of the cluster (`name@host`).
    #[arg(long, env = "ACTORCTL_NODE")]
    pub node: String,
    /// Its listen address (`host:port`).
    #[arg(long, env = "ACTORCTL_ADDR")]
    pub addr: SocketAddr,
    /// The cookie (visible to other users in the process list: prefer the environment
    /// variable ACTORCTL_COOKIE or a cookie file).
    #[arg(long)]
    pub cookie: Option<String>,
    /// A file holding the cookie, readable by its owner only.
    #[arg(long, env = "ACTORCTL_COOKIE_FILE")]
    pub cookie_file: Option<PathBuf>,
    /// JSON output instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
    /// What to do.
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Nodes with health, load, age, app version (and quorum where reported).
    Nodes,
    /// Registry entries matching a pattern (parts joined by `/`, `*` one part, trailing `**`
    /// the rest).
    Names {
        /// The pattern (default: everything).
        #[arg(default_value = "**")]
        pattern: String,
        /// Only this kind: name, property, counter, aggregated.
        #[arg(long)]
        kind: Option<String>,
        /// At most this many rows (the node caps it at 10,000).
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// Process groups and their members.
    Groups,
    /// The processes of a node, the longest mailboxes first.
    Ps {
        /// The node.
        node: String,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Do not ask each process for its state.
        #[arg(long)]
        no_state: bool,
    },
    /// An entity's current state and last receipts (`state KIND KEY`), or any process's
    /// (`state PID`).
    State {
        /// Entity kind, or a pid like `<ab12cd34.42.7>`.
        kind_or_pid: String,
        /// Entity key.
        key: Option<String>,
        /// How many of the last receipts to show.
        #[arg(long, default_value_t = 10)]
        receipts: u32,
    },
    /// A live view refreshed every second (q or Esc quits), optionally following one entity.
    Top {
        /// Entity kind to follow.
        kind: Option<String>,
        /// Entity key to follow.
        key: Option<String>,
    },
    /// Whether a node answers, and how fast.
    Ping {
        /// The node.
        node: String,
    },
    /// Stops a process (orderly, after its queued messages; `--kill`: at once).
    Stop {
        /// The pid, as `ps` prints it.
        pid: String,
        /// Kill instead (untrappable).
        #[arg(long)]
        kill: bool,
    },
    /// Starts a child of a supervisor the node exposes (`Ops::builder(..).supervisor(..)`).
    StartChild {
        /// The node.
        node: String,
        /// The supervisor's exposed name.
        sup: String,
        /// The child's arguments as JSON.
        args: String,
    },
}

/// Runs `actorctl` with `args` (the program name first), writing results to `out` and
/// errors to `err`; returns the exit code.
pub async fn run<I, T>(args: I, out: &mut (dyn Write + Send), err: &mut (dyn Write + Send)) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = if code == 0 {
                write!(out, "{e}")
            } else {
                write!(err, "{e}")
            };
            return code;
        }
    };
    match execute(&args, out).await {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "actorctl: {e}");
            e.exit_code()
        }
    }
}

fn emit<T: Serialize>(
    out: &mut (dyn Write + Send),
    json: bool,
    v: &T,
    table: impl FnOnce() -> String,
) {
    let _ = if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(v).unwrap_or_default()
        )
    } else {
        write!(out, "{}", table())
    };
}

/// Formats rows as aligned columns under a header.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut s = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        s.push_str(&line(r));
    }
    s
}

fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

async fn execute(a: &Args, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    if !(a.timeout > 0.0 && a.timeout < 3600.0) {
        return Err(CliError::Usage(
            "--timeout must be in (0, 3600) seconds".into(),
        ));
    }
    let cookie = load_cookie(
        a.cookie.as_deref(),
        "ACTORCTL_COOKIE",
        a.cookie_file.as_deref(),
    )?;
    let target = Target {
        node: a.node.clone(),
        addr: a.addr,
        cookie,
        timeout: Duration::from_secs_f64(a.timeout),
    };
    let c = Client::connect(&target).await?;
    let json = a.json;
    match &a.cmd {
        Cmd::Nodes => {
            let nodes = c.nodes().await?;
            let bad: Vec<&str> = nodes
                .iter()
                .filter(|(_, r)| !r.as_ref().is_ok_and(|r| r.health.healthy))
                .map(|(n, _)| n.as_str())
                .collect();
            let rows: Vec<serde_json::Value> = nodes
                .iter()
                .map(|(n, r)| match r {
                    Ok(rep) => serde_json::json!({"node": n, "report": rep}),
                    Err(e) => serde_json::json!({"node": n, "error": e}),
                })
                .collect();
            emit(out, json, &rows, || {
                table(
                    &[
                        "NODE", "HEALTH", "PROCS", "BACKLOG", "MEM(MB)", "AGE", "VERSION", "PEERS",
                        "QUORUM", "WHY",
                    ],
                    nodes
                        .iter()
                        .map(|(n, r)| match r {
                            Ok(r) => vec![
                                n.clone(),
                                if r.health.healthy { "ok" } else { "UNHEALTHY" }.to_string()
                                    + if r.health.ready { "" } else { ",not-ready" },
                                r.processes.to_string(),
                                r.backlog.to_string(),
                                format!("{:.1}", r.memory as f64 / 1e6),
                                age(r.uptime_ms),
                                r.app_version.clone(),
                                format!("{}+{}h", r.visible.len(), r.hidden.len()),
                                r.health.quorum.as_ref().map_or("-".to_string(), |q| {
                                    format!("{} {}/{}", q.phase.as_str(), q.reachable, q.members)
                                }),
                                r.health.reason.clone(),
                            ],
                            Err(e) => {
                                let mut v = vec![n.clone(), "NO ANSWER".into()];
                                v.extend(std::iter::repeat_n("-".to_string(), 7));
                                v.push(e.clone());
                                v
                            }
                        })
                        .collect(),
                )
            });
            if !json {
                let links: Vec<Vec<String>> = nodes
                    .iter()
                    .filter_map(|(n, r)| r.as_ref().ok().map(|r| (n, r)))
                    .flat_map(|(n, r)| {
                        r.traffic.iter().map(move |t| {
                            vec![
                                n.clone(),
                                t.node.clone(),
                                t.frames_out.to_string(),
                                t.bytes_out.to_string(),
                                t.frames_in.to_string(),
                                t.bytes_in.to_string(),
                                if t.connected { "up" } else { "down" }.to_string(),
                            ]
                        })
                    })
                    .collect();
                if !links.is_empty() {
                    let _ = write!(
                        out,
                        "\n{}",
                        table(
                            &[
                                "NODE",
                                "PEER",
                                "FRAMES_OUT",
                                "BYTES_OUT",
                                "FRAMES_IN",
                                "BYTES_IN",
                                "LINK"
                            ],
                            links
                        )
                    );
                }
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(CliError::Unhealthy(format!(
                    "unhealthy or silent: {}",
                    bad.join(", ")
                )))
            }
        }
        Cmd::Names {
            pattern,
            kind,
            limit,
        } => {
            let rows = c.names(kind.clone(), pattern, *limit).await?;
            emit(out, json, &rows, || {
                table(
                    &["SCOPE", "KIND", "KEY", "PID", "NODE", "VALUE"],
                    rows.iter()
                        .map(|r| {
                            vec![
                                r.scope.clone(),
                                r.kind.clone(),
                                r.key.clone(),
                                r.pid.to_string(),
                                r.node.clone(),
                                r.value.clone(),
                            ]
                        })
                        .collect(),
                )
            });
            Ok(())
        }
        Cmd::Groups => {
            let rows = c.groups().await?;
            emit(out, json, &rows, || {
                table(
                    &["SCOPE", "GROUP", "SIZE", "MEMBERS"],
                    rows.iter()
                        .map(|g| {
                            vec![
                                g.scope.clone(),
                                g.group.clone(),
                                g.members.len().to_string(),
                                g.members
                                    .iter()
                                    .map(|p| p.to_string())
                                    .collect::<Vec<_>>()
                                    .join(" "),
                            ]
                        })
                        .collect(),
                )
            });
            Ok(())
        }
        Cmd::Ps {
            node,
            limit,
            no_state,
        } => {
            let q = PsQuery {
                limit: *limit,
                describe_ms: if *no_state { 0 } else { 200 },
            };
            let rows = c.processes(node, q).await?;
            emit(out, json, &rows, || {
                table(
                    &[
                        "PID", "NAME", "MSGQ", "STATUS", "LINKS", "MONS", "STATE", "ACTOR",
                    ],
                    rows.iter()
                        .map(|r| {
                            let i = &r.info;
                            vec![
                                i.pid.to_string(),
                                i.name.clone().or(i.label.clone()).unwrap_or("-".into()),
                                i.message_queue_len.to_string(),
                                i.status.to_string(),
                                i.links.to_string(),
                                i.monitors.to_string(),
                                r.state
                                    .as_ref()
                                    .and_then(|s| s.state.clone())
                                    .unwrap_or("-".into()),
                                i.actor.clone(),
                            ]
                        })
                        .collect(),
                )
            });
            Ok(())
        }
        Cmd::State {
            kind_or_pid,
            key,
            receipts,
        } => match key {
            Some(key) => {
                let r = c.state(kind_or_pid, key, *receipts).await?;
                emit(out, json, &r, || {
                    let st = r.state.clone().unwrap_or_default();
                    let mut s = format!(
                        "entity   {}/{}\nprocess  {}\nnode     {}\nstate    {}\nsummary  {}\nlast seq {}\n",
                        r.kind,
                        r.key,
                        r.pid.map_or("(not active)".to_string(), |p| p.to_string()),
                        r.node.clone().unwrap_or("-".into()),
                        st.state.unwrap_or("-".into()),
                        st.summary.unwrap_or("-".into()),
                        r.last_seq,
                    );
                    if !r.receipts.is_empty() {
                        s.push('\n');
                        s.push_str(&table(
                            &["SEQ", "EPOCH", "TIME(us)", "FROM", "TO", "METADATA"],
                            r.receipts
                                .iter()
                                .map(|x| {
                                    vec![
                                        x.seq.to_string(),
                                        x.epoch.to_string(),
                                        x.time.to_string(),
                                        x.from.clone(),
                                        x.to.clone(),
                                        x.metadata
                                            .iter()
                                            .map(|(k, v)| format!("{k}={v}"))
                                            .collect::<Vec<_>>()
                                            .join(","),
                                    ]
                                })
                                .collect(),
                        ));
                    }
                    s
                });
                Ok(())
            }
            None => {
                let nodes = known_nodes(&c).await?;
                let pid = parse_pid(kind_or_pid, &nodes)?;
                let st = c.describe(pid).await?;
                emit(out, json, &st, || {
                    format!(
                        "process  {pid}\nstate    {}\nsummary  {}\n",
                        st.state.clone().unwrap_or("-".into()),
                        st.summary.clone().unwrap_or("-".into())
                    )
                });
                Ok(())
            }
        },
        Cmd::Top { kind, key } => {
            let entity = match (kind, key) {
                (Some(k), Some(v)) => Some((k.clone(), v.clone())),
                (None, None) => None,
                _ => return Err(CliError::Usage("top takes KIND and KEY, or neither".into())),
            };
            crate::top::run(&c, entity).await
        }
        Cmd::Ping { node } => match c.ping(node).await {
            Ok(us) => {
                emit(
                    out,
                    json,
                    &serde_json::json!({"node": node, "pong": true, "micros": us}),
                    || format!("pong {node} {:.2} ms\n", us as f64 / 1000.0),
                );
                Ok(())
            }
            Err(e) => {
                emit(
                    out,
                    json,
                    &serde_json::json!({"node": node, "pong": false, "error": e.to_string()}),
                    || format!("pang {node}\n"),
                );
                Err(e)
            }
        },
        Cmd::Stop { pid, kill } => {
            let nodes = known_nodes(&c).await?;
            let pid = parse_pid(pid, &nodes)?;
            let node = c.stop(pid, *kill).await?;
            emit(
                out,
                json,
                &serde_json::json!({"pid": pid, "node": node, "stopped": true}),
                || {
                    format!(
                        "{} {pid} on {node}\n",
                        if *kill { "killed" } else { "stopped" }
                    )
                },
            );
            Ok(())
        }
        Cmd::StartChild { node, sup, args } => {
            let pid = c.start_child(node, sup, args).await?;
            emit(
                out,
                json,
                &serde_json::json!({"node": node, "supervisor": sup, "pid": pid}),
                || match pid {
                    Some(p) => format!("started {p} under {sup} on {node}\n"),
                    None => format!("the child of {sup} on {node} chose not to start (ignore)\n"),
                },
            );
            Ok(())
        }
    }
}

async fn known_nodes(c: &Client) -> Result<Vec<String>, CliError> {
    Ok(c.nodes().await?.into_iter().map(|(n, _)| n).collect())
}
