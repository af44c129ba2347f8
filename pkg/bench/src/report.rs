//! Renders the per-system JSON results as one markdown table with k3rs/peer ratios.

use std::collections::BTreeSet;

use crate::results::SystemResults;

/// The k3rs targets on SQLite (from the benchmark issue).
pub const TARGET_CREATES_PER_S_AT_32: f64 = 5000.0;
pub const TARGET_WATCH_P99_MS: f64 = 10.0;

/// Whether a bigger value of a row is better, a smaller one, or neither (counts).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    Higher,
    Lower,
    /// Counts (errors, missed events): no ratio.
    Count,
}

struct Row {
    label: String,
    better: Better,
    values: [Option<f64>; 3],
    /// Decimals shown.
    decimals: usize,
}

/// Systems in column order: k3rs, etcd, kine.
pub struct Columns<'a> {
    pub k3rs: Option<&'a SystemResults>,
    pub etcd: Option<&'a SystemResults>,
    pub kine: Option<&'a SystemResults>,
}

impl<'a> Columns<'a> {
    fn all(&self) -> [Option<&'a SystemResults>; 3] {
        [self.k3rs, self.etcd, self.kine]
    }
}

/// `v` with `decimals` decimals (thousands separators when 0), "—" when unknown.
pub(crate) fn fmt_value(v: Option<f64>, decimals: usize) -> String {
    match v {
        None => "—".into(),
        Some(v) if decimals == 0 => {
            // Thousands separators for readability.
            let s = format!("{:.0}", v);
            let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            format!("{sign}{out}")
        }
        Some(v) => format!("{:.*}", decimals, v),
    }
}

/// `k3rs ÷ peer` as "1.23×"; "—" for counts or when either is unknown.
pub(crate) fn fmt_ratio(k3rs: Option<f64>, peer: Option<f64>, better: Better) -> String {
    match (better, k3rs, peer) {
        (Better::Count, _, _) => "—".into(),
        (_, Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

fn writers_levels(cols: &Columns) -> Vec<usize> {
    let mut s = BTreeSet::new();
    for r in cols.all().into_iter().flatten() {
        s.extend(r.creates.iter().map(|c| c.writers));
    }
    s.into_iter().collect()
}

fn list_sizes(cols: &Columns) -> Vec<usize> {
    let mut s = BTreeSet::new();
    for r in cols.all().into_iter().flatten() {
        s.extend(r.lists.iter().map(|l| l.keys));
    }
    s.into_iter().collect()
}

fn human_count(n: usize) -> String {
    if n >= 1000 && n / 1000 * 1000 == n {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn rows(cols: &Columns) -> Vec<Row> {
    let sys = cols.all();
    let pick = |f: &dyn Fn(&SystemResults) -> Option<f64>| -> [Option<f64>; 3] {
        [sys[0].and_then(f), sys[1].and_then(f), sys[2].and_then(f)]
    };
    let mut out = Vec::new();
    for w in writers_levels(cols) {
        let c = |r: &SystemResults| r.creates.iter().find(|c| c.writers == w).cloned();
        out.push(Row {
            label: format!("creates/s, {w} writer{}", if w == 1 { "" } else { "s" }),
            better: Better::Higher,
            values: pick(&|r| c(r).map(|c| c.ops_per_s)),
            decimals: 0,
        });
        out.push(Row {
            label: format!(
                "create latency p99 (ms), {w} writer{}",
                if w == 1 { "" } else { "s" }
            ),
            better: Better::Lower,
            values: pick(&|r| c(r).filter(|c| c.ops > 0).map(|c| c.latency.p99_ms)),
            decimals: 2,
        });
    }
    for n in list_sizes(cols) {
        let l = |r: &SystemResults| r.lists.iter().find(|l| l.keys == n).cloned();
        out.push(Row {
            label: format!("list {} keys, unpaged (s)", human_count(n)),
            better: Better::Lower,
            values: pick(&|r| l(r).and_then(|l| l.unpaged_median_s)),
            decimals: 3,
        });
        let limit = sys
            .iter()
            .flatten()
            .find_map(|r| l(r).map(|l| l.page_limit))
            .unwrap_or(0);
        out.push(Row {
            label: format!("list {} keys, paged by {limit} (s)", human_count(n)),
            better: Better::Lower,
            values: pick(&|r| l(r).and_then(|l| l.paged_median_s)),
            decimals: 3,
        });
    }
    let watchers = sys
        .iter()
        .flatten()
        .find_map(|r| r.watch.as_ref().map(|w| w.watchers));
    if let Some(nw) = watchers {
        let has = |r: &SystemResults| r.watch.clone().filter(|w| w.latency.count > 0);
        out.push(Row {
            label: format!("watch delivery p50 (ms), {nw} watchers"),
            better: Better::Lower,
            values: pick(&|r| has(r).map(|w| w.latency.p50_ms)),
            decimals: 2,
        });
        out.push(Row {
            label: format!("watch delivery p99 (ms), {nw} watchers"),
            better: Better::Lower,
            values: pick(&|r| has(r).map(|w| w.latency.p99_ms)),
            decimals: 2,
        });
        out.push(Row {
            label: "watch events missed / duplicated".into(),
            better: Better::Count,
            values: pick(&|r| r.watch.as_ref().map(|w| (w.missed + w.duplicated) as f64)),
            decimals: 0,
        });
    }
    out.push(Row {
        label: "errors (all requests)".into(),
        better: Better::Count,
        values: pick(&|r| Some(r.total_errors().errors as f64)),
        decimals: 0,
    });
    out.push(Row {
        label: "\"locked\" errors".into(),
        better: Better::Count,
        values: pick(&|r| Some(r.total_errors().locked as f64)),
        decimals: 0,
    });
    out
}

/// The markdown table, followed by the k3rs targets and any failures worth reading.
pub fn render(cols: &Columns) -> String {
    let mut s = String::new();
    s.push_str("| figure | k3rs-sqlite | etcd | kine | k3rs/etcd | k3rs/kine |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|\n");
    for row in rows(cols) {
        let hint = match row.better {
            Better::Higher => " ↑",
            Better::Lower => " ↓",
            Better::Count => "",
        };
        let v = row.values;
        let missed_dup = row.label.starts_with("watch events missed");
        let cell = |i: usize| -> String {
            if missed_dup {
                // Show "missed / duplicated" rather than their sum.
                let r = cols.all()[i];
                return match r.and_then(|r| r.watch.as_ref()) {
                    Some(w) => format!("{} / {}", w.missed, w.duplicated),
                    None => "—".into(),
                };
            }
            fmt_value(v[i], row.decimals)
        };
        s.push_str(&format!(
            "| {}{} | {} | {} | {} | {} | {} |\n",
            row.label,
            hint,
            cell(0),
            cell(1),
            cell(2),
            fmt_ratio(v[0], v[1], row.better),
            fmt_ratio(v[0], v[2], row.better),
        ));
    }
    s.push_str("\n↑ higher is better, ↓ lower is better; ratios are k3rs ÷ peer.\n");

    if let Some(k) = cols.k3rs {
        s.push_str("\nk3rs targets on SQLite:\n\n");
        let at32 = k.creates.iter().find(|c| c.writers == 32);
        let mark = |ok: bool| if ok { "PASS" } else { "FAIL" };
        match at32 {
            Some(c) => s.push_str(&format!(
                "- ≥ {:.0} creates/s at 32 writers: {} ({:.0})\n",
                TARGET_CREATES_PER_S_AT_32,
                mark(c.ops_per_s >= TARGET_CREATES_PER_S_AT_32),
                c.ops_per_s
            )),
            None => s.push_str("- ≥ 5000 creates/s at 32 writers: not measured\n"),
        }
        let locked = k.total_errors().locked;
        s.push_str(&format!(
            "- 0 \"locked\" errors: {} ({locked})\n",
            mark(locked == 0)
        ));
        match k.watch.as_ref().filter(|w| w.latency.count > 0) {
            Some(w) => s.push_str(&format!(
                "- watch p99 ≤ {:.0} ms: {} ({:.2} ms)\n",
                TARGET_WATCH_P99_MS,
                mark(w.latency.p99_ms <= TARGET_WATCH_P99_MS),
                w.latency.p99_ms
            )),
            None => s.push_str("- watch p99 ≤ 10 ms: not measured\n"),
        }
    }

    let mut notes = Vec::new();
    for r in cols.all().into_iter().flatten() {
        for f in &r.fatal {
            notes.push(format!("- {}: scenario failed: {f}", r.name));
        }
        let t = r.total_errors();
        if !t.samples.is_empty() {
            notes.push(format!(
                "- {}: {} errors, e.g. {}",
                r.name,
                t.errors,
                t.samples
                    .iter()
                    .map(|m| format!("`{}`", m.replace('`', "'").replace('\n', " ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let failed: u64 = r.creates.iter().map(|c| c.failed_txns).sum();
        if failed > 0 {
            notes.push(format!(
                "- {}: {failed} create transactions answered succeeded=false for new keys",
                r.name
            ));
        }
        if let Some(w) = &r.watch {
            if w.out_of_order > 0 || w.unexpected > 0 {
                notes.push(format!(
                    "- {}: watch events out of order {}, unexpected {}",
                    r.name, w.out_of_order, w.unexpected
                ));
            }
        }
    }
    if !notes.is_empty() {
        s.push_str("\nProblems seen:\n\n");
        for n in notes {
            s.push_str(&n);
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{CreatesResult, ListResult, WatchResult};
    use crate::stats::LatencySummary;

    fn sys(name: &str, ops: f64, list_s: f64, p99: f64) -> SystemResults {
        SystemResults {
            name: name.into(),
            creates: vec![CreatesResult {
                writers: 32,
                ops: 100,
                ops_per_s: ops,
                latency: LatencySummary {
                    count: 100,
                    p99_ms: 3.0,
                    ..Default::default()
                },
                ..Default::default()
            }],
            lists: vec![ListResult {
                keys: 10000,
                unpaged_median_s: Some(list_s),
                paged_median_s: Some(list_s * 2.0),
                page_limit: 500,
                ..Default::default()
            }],
            watch: Some(WatchResult {
                watchers: 100,
                latency: LatencySummary {
                    count: 10,
                    p50_ms: 1.0,
                    p99_ms: p99,
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn table_has_ratios_and_targets() {
        let k = sys("k3rs-sqlite", 6000.0, 0.5, 4.0);
        let e = sys("etcd", 12000.0, 0.25, 2.0);
        let out = render(&Columns {
            k3rs: Some(&k),
            etcd: Some(&e),
            kine: None,
        });
        assert!(
            out.contains("| creates/s, 32 writers ↑ | 6,000 | 12,000 | — | 0.50× | — |"),
            "{out}"
        );
        assert!(
            out.contains("| list 10k keys, unpaged (s) ↓ | 0.500 | 0.250 | — | 2.00× | — |"),
            "{out}"
        );
        assert!(
            out.contains("| list 10k keys, paged by 500 (s) ↓ |"),
            "{out}"
        );
        assert!(
            out.contains("| watch events missed / duplicated | 0 / 0 | 0 / 0 | — | — | — |"),
            "{out}"
        );
        assert!(
            out.contains("- ≥ 5000 creates/s at 32 writers: PASS (6000)"),
            "{out}"
        );
        assert!(out.contains("- watch p99 ≤ 10 ms: PASS (4.00 ms)"), "{out}");
        assert!(!out.contains("Problems seen"), "{out}");
    }

    #[test]
    fn failures_are_listed() {
        let mut k = sys("k3rs-sqlite", 100.0, 0.5, 40.0);
        k.creates[0].errors.record("database is locked");
        k.fatal.push("watch: connection refused".into());
        let out = render(&Columns {
            k3rs: Some(&k),
            etcd: None,
            kine: None,
        });
        assert!(
            out.contains("| \"locked\" errors | 1 | — | — | — | — |"),
            "{out}"
        );
        assert!(out.contains("FAIL (100)"), "{out}");
        assert!(out.contains("- 0 \"locked\" errors: FAIL (1)"), "{out}");
        assert!(
            out.contains("scenario failed: watch: connection refused"),
            "{out}"
        );
        assert!(out.contains("`database is locked`"), "{out}");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(fmt_value(Some(1234567.4), 0), "1,234,567");
        assert_eq!(fmt_value(Some(999.0), 0), "999");
        assert_eq!(fmt_value(Some(0.1234), 3), "0.123");
        assert_eq!(fmt_value(None, 2), "—");
    }
}
