//! `actorctl top`: a live view refreshed every second (ratatui): nodes and their health,
//! backlog per node over time, names and groups, the busiest mailboxes, and one entity's
//! state with its last receipts.
//!
//! [`TopState`] holds what was fetched (bounded: 60 samples per node, the nodes the target
//! reports, 20 names, 10 processes); [`draw`] renders it, so it is tested headlessly with
//! ratatui's `TestBackend`.

use crate::client::{CliError, Client};
use crate::protocol::*;
use ratatui::layout::{Constraint, Direction, Layout};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Sparkline, Table};
use ratatui::Frame;
use std::collections::{HashMap, VecDeque};

/// Samples of history kept per node.
pub const HISTORY: usize = 60;

/// What the live view shows; refreshed by [`TopState::refresh`].
#[derive(Default, Debug, Clone)]
pub struct TopState {
    /// Every node's report (or why it did not answer).
    pub nodes: Vec<(String, Result<NodeReport, String>)>,
    /// Backlog per node, oldest first, at most [`HISTORY`] samples.
    pub backlog: HashMap<String, VecDeque<u64>>,
    /// The first names of the registry.
    pub names: Vec<NameRow>,
    /// Process groups.
    pub groups: Vec<GroupRow>,
    /// The longest mailboxes of the cluster: (node, process).
    pub busiest: Vec<(String, ProcessRow)>,
    /// The selected entity, if any.
    pub entity: Option<StateReport>,
    /// The last error, shown in the title.
    pub error: Option<String>,
}

impl TopState {
    /// Fetches everything once; `entity` is the `(kind, key)` to show.
    pub async fn refresh(&mut self, c: &Client, entity: Option<&(String, String)>) {
        self.error = None;
        match c.nodes().await {
            Ok(nodes) => {
                self.backlog
                    .retain(|n, _| nodes.iter().any(|(m, _)| m == n));
                for (n, r) in &nodes {
                    let h = self.backlog.entry(n.clone()).or_default();
                    h.push_back(r.as_ref().map_or(0, |r| r.backlog));
                    while h.len() > HISTORY {
                        h.pop_front();
                    }
                }
                self.nodes = nodes;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
        let keep = |e: CliError, s: &mut Option<String>| *s = Some(e.to_string());
        match c.names(None, "**", 20).await {
            Ok(v) => self.names = v,
            Err(e) => keep(e, &mut self.error),
        }
        match c.groups().await {
            Ok(v) => self.groups = v,
            Err(e) => keep(e, &mut self.error),
        }
        let mut busiest = Vec::new();
        let names: Vec<String> = self.nodes.iter().map(|(n, _)| n.clone()).collect();
        for n in names {
            let q = PsQuery {
                limit: 10,
                describe_ms: 0,
            };
            if let Ok(rows) = c.processes(&n, q).await {
                busiest.extend(rows.into_iter().map(|r| (n.clone(), r)));
            }
        }
        busiest.sort_by_key(|b| std::cmp::Reverse(b.1.info.message_queue_len));
        busiest.truncate(10);
        self.busiest = busiest;
        if let Some((kind, key)) = entity {
            match c.state(kind, key, 5).await {
                Ok(s) => self.entity = Some(s),
                Err(e) => keep(e, &mut self.error),
            }
        }
    }
}

/// Renders `s` on the whole frame.
pub fn draw(f: &mut Frame, s: &TopState) {
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(s.nodes.len() as u16 + 3),
            Constraint::Length(5),
            Constraint::Min(6),
        ])
        .split(f.area());
    let title = match &s.error {
        Some(e) => format!(" nodes (error: {e}) "),
        None => " nodes ".to_string(),
    };
    let node_rows = s.nodes.iter().map(|(n, r)| match r {
        Ok(r) => Row::new(vec![
            n.clone(),
            if r.health.healthy {
                "ok".into()
            } else {
                "UNHEALTHY".into()
            },
            r.processes.to_string(),
            r.backlog.to_string(),
            r.app_version.clone(),
            r.health
                .quorum
                .as_ref()
                .map_or("-".to_string(), |q| q.phase.as_str().to_string()),
            r.health.reason.clone(),
        ])
        .style(Style::default().fg(if r.health.healthy {
            Color::Reset
        } else {
            Color::Red
        })),
        Err(e) => Row::new(vec![
            n.clone(),
            "NO ANSWER".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            e.clone(),
        ])
        .style(Style::default().fg(Color::Red)),
    });
    let widths = [
        Constraint::Length(24),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Min(10),
    ];
    f.render_widget(
        Table::new(node_rows, widths)
            .header(Row::new(vec![
                "NODE", "HEALTH", "PROCS", "BACKLOG", "VERSION", "QUORUM", "WHY",
            ]))
            .block(Block::default().borders(Borders::ALL).title(title)),
        rows[0],
    );
    // Backlog over time, one sparkline per node (at most 4 side by side).
    let shown: Vec<&String> = s.nodes.iter().map(|(n, _)| n).take(4).collect();
    if !shown.is_empty() {
        let cols = Layout::default()
            .direction(Direction::Horizontal)
            .constraints(vec![Constraint::Ratio(1, shown.len() as u32); shown.len()])
            .split(rows[1]);
        for (i, n) in shown.iter().enumerate() {
            let data: Vec<u64> = s
                .backlog
                .get(*n)
                .map(|h| h.iter().copied().collect())
                .unwrap_or_default();
            f.render_widget(
                Sparkline::default().data(&data).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(format!(" backlog {n} ")),
                ),
                cols[i],
            );
        }
    }
    let bottom = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([
            Constraint::Percentage(35),
            Constraint::Percentage(35),
            Constraint::Percentage(30),
        ])
        .split(rows[2]);
    let mut reg: Vec<Line> = s
        .names
        .iter()
        .map(|r| Line::from(format!("{} {} {} @{}", r.kind, r.key, r.pid, r.node)))
        .collect();
    reg.extend(
        s.groups
            .iter()
            .map(|g| Line::from(format!("group {} ({} members)", g.group, g.members.len()))),
    );
    f.render_widget(
        Paragraph::new(reg).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" names / groups "),
        ),
        bottom[0],
    );
    let busy = s.busiest.iter().map(|(n, r)| {
        Row::new(vec![
            r.info.pid.to_string(),
            r.info.message_queue_len.to_string(),
            r.info
                .name
                .clone()
                .or(r.info.label.clone())
                .unwrap_or_default(),
            n.clone(),
        ])
    });
    f.render_widget(
        Table::new(
            busy,
            [
                Constraint::Length(26),
                Constraint::Length(7),
                Constraint::Min(8),
                Constraint::Min(8),
            ],
        )
        .header(Row::new(vec!["PID", "MSGQ", "NAME", "NODE"]))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" busiest mailboxes "),
        ),
        bottom[1],
    );
    let ent: Vec<Line> = match &s.entity {
        None => vec![Line::from("no entity selected (top KIND KEY)")],
        Some(e) => {
            let st = e.state.clone().unwrap_or_default();
            let mut v = vec![
                Line::from(format!("{}/{}", e.kind, e.key)),
                Line::from(format!("state {}", st.state.unwrap_or("-".into()))),
                Line::from(format!("data  {}", st.summary.unwrap_or("-".into()))),
                Line::from(format!("seq   {}", e.last_seq)),
            ];
            v.extend(
                e.receipts
                    .iter()
                    .rev()
                    .map(|r| Line::from(format!("#{} {} -> {}", r.seq, r.from, r.to))),
            );
            v
        }
    };
    f.render_widget(
        Paragraph::new(ent).block(Block::default().borders(Borders::ALL).title(" entity ")),
        bottom[2],
    );
}

/// Runs the live view in the terminal until `q` or Esc, refreshing every second.
pub async fn run(c: &Client, entity: Option<(String, String)>) -> Result<(), CliError> {
    use ratatui::crossterm::event::{self, Event, KeyCode};
    let mut terminal = ratatui::init();
    let mut state = TopState::default();
    let out = loop {
        state.refresh(c, entity.as_ref()).await;
        if let Err(e) = terminal.draw(|f| draw(f, &state)) {
            break Err(CliError::Usage(format!("terminal: {e}")));
        }
        // Wait up to a second for a key, off the async threads.
        let key = tokio::task::spawn_blocking(|| {
            if event::poll(std::time::Duration::from_secs(1)).unwrap_or(false) {
                event::read().ok()
            } else {
                None
            }
        })
        .await
        .ok()
        .flatten();
        if let Some(Event::Key(k)) = key {
            if matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                break Ok(());
            }
        }
    };
    ratatui::restore();
    out
}
