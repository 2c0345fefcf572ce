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
