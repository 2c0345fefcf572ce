//! Comment and ratio lines that compare workloads of one run (W8 over W3, W14's scale).

use crate::Medians;

/// W8 beside the same run's W3 plain actor call, when both ran: `# W8/W3 p50: ...`.
pub(crate) fn print_w8_vs_w3(all: &Medians) {
    for metric in ["mean", "p50", "p99"] {
        let ratios: Vec<String> = ["", "-task"]
            .iter()
            .filter_map(|suffix| {
                let (statem, actor) = (format!("statem{suffix}"), format!("actor-core{suffix}"));
                let s = all.iter().find_map(|((w, p, m), v)| {
                    (*w == "W8" && *p == statem && *m == metric).then_some(*v)
                })?;
                let a = all.iter().find_map(|((w, p, m), v)| {
                    (*w == "W3" && *p == actor && *m == metric).then_some(*v)
                })?;
                Some(format!("W8 {statem}/W3 {actor}={:.2}", s / a))
            })
            .collect();
        if !ratios.is_empty() {
            println!("# W8/W3 {metric}: {}", ratios.join(" "));
        }
    }
}

/// W14's scale ratio: per-child cost at 100k over 10k (target <= 1.3, linear).
pub(crate) fn print_w14_scale(all: &Medians) {
    for metric in ["start_per_child", "terminate_per_child"] {
        let get = |peer: &str| {
            all.iter().find_map(|((w, p, m), v)| {
                (*w == "W14" && *p == peer && *m == metric).then_some(*v)
            })
        };
        if let (Some(small), Some(large)) = (get("actor-core-10k"), get("actor-core-100k")) {
            println!(
                "peer=actor-core workload=W14 metric=scale_ratio_{metric} value={:.2} unit=ratio",
                large / small
            );
        }
    }
}

/// `# <W> <metric>: actor-core/ractor=... ...`: actor-core over each peer, placement by
/// placement where both ran (actix, single-threaded only, against every placement).
pub(crate) fn print_peer_ratios(
    w: &crate::Workload,
    medians: &std::collections::HashMap<(&str, &str), f64>,
) {
    const SUFFIXES: [&str; 3] = ["", "-task", "-1t"];
    for &(metric, _) in w.metrics {
        let get = |peer: &str| medians.get(&(peer, metric)).copied();
        let mut ratios = Vec::new();
        for peer in ["ractor", "kameo", "actix", "raw-tokio"] {
            for suffix in SUFFIXES {
                let ours = format!("actor-core{suffix}");
                let theirs = if peer == "actix" {
                    "actix-1t".to_owned()
                } else {
                    format!("{peer}{suffix}")
                };
                if let (Some(a), Some(b)) = (get(&ours), get(&theirs)) {
                    ratios.push(format!("{ours}/{theirs}={:.2}", a / b));
                }
            }
        }
        if !ratios.is_empty() {
            println!("# {} {metric}: {}", w.id, ratios.join(" "));
        }
    }
}

/// W3 over the same run's W7d (raw tokio mpsc + oneshot), placement by placement.
pub(crate) fn print_w3_vs_w7d(all: &Medians) {
    let get = |w: &str, peer: &str| {
        all.iter()
            .find_map(|((w2, p, m), v)| (*w2 == w && *p == peer && *m == "p50").then_some(*v))
    };
    let ratios: Vec<String> = ["", "-task", "-1t"]
        .iter()
        .filter_map(|s| {
            let a = get("W3", &format!("actor-core{s}"))?;
            let r = get("W7d", &format!("raw-tokio{s}"))?;
            Some(format!("W3 actor-core{s}/W7d raw-tokio{s}={:.2}", a / r))
        })
        .collect();
    if !ratios.is_empty() {
        println!("# W3/W7d p50: {}", ratios.join(" "));
    }
}
