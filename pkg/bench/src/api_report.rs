//! Renders the per-system JSON results of `k3rs-bench-api` as markdown: one
//! table per scenario, each system's figure and the ratios k3rs ÷
//! kube-apiserver+etcd.

use std::collections::BTreeSet;

use crate::api_results::{ApiSystemResults, CrudResult};
use crate::report::{fmt_ratio, fmt_value, Better};
use crate::stats::LatencySummary;

/// Targets for k3rs on SQLite (from the benchmark issue).
pub const TARGET_IDLE_RSS_MB: f64 = 30.0;
pub const TARGET_COLD_START_S: f64 = 1.0;
pub const TARGET_RATIO_AT_32: f64 = 2.0;
pub const TARGET_MUTATING_P99_MS: f64 = 1000.0;
pub const TARGET_WATCH_P99_MS: f64 = 10.0;

/// The systems, in column order. The baseline of the ratios is `kube_etcd`.
pub struct Systems<'a> {
    pub k3rs_sqlite: Option<&'a ApiSystemResults>,
    pub k3rs_etcd: Option<&'a ApiSystemResults>,
    pub kube_etcd: Option<&'a ApiSystemResults>,
    pub kube_k3rs: Option<&'a ApiSystemResults>,
}

const HEADERS: [&str; 4] = [
    "k3rs (SQLite)",
    "k3rs (etcd)",
    "kube-apiserver + etcd",
    "kube-apiserver + k3rs datastore",
];

impl<'a> Systems<'a> {
    fn all(&self) -> [Option<&'a ApiSystemResults>; 4] {
        [
            self.k3rs_sqlite,
            self.k3rs_etcd,
            self.kube_etcd,
            self.kube_k3rs,
        ]
    }
}

struct Row {
    label: String,
    better: Better,
    /// The number each ratio is computed from.
    values: [Option<f64>; 4],
    /// What each cell shows.
    cells: [String; 4],
}

fn numeric_row(
    label: impl Into<String>,
    better: Better,
    decimals: usize,
    sys: &Systems,
    f: &dyn Fn(&ApiSystemResults) -> Option<f64>,
) -> Row {
    let values = sys.all().map(|s| s.and_then(f));
    Row {
        label: label.into(),
        better,
        values,
        cells: values.map(|v| fmt_value(v, decimals)),
    }
}

fn table(title: &str, rows: &[Row], out: &mut String) {
    if rows.is_empty() {
        return;
    }
    out.push_str(&format!("### {title}\n\n"));
    out.push_str("| figure |");
    for h in HEADERS {
        out.push_str(&format!(" {h} |"));
    }
    out.push_str(" k3rs (SQLite) ÷ kube+etcd | k3rs (etcd) ÷ kube+etcd |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let hint = match r.better {
            Better::Higher => " ↑",
            Better::Lower => " ↓",
            Better::Count => "",
        };
        out.push_str(&format!("| {}{hint} |", r.label));
        for c in &r.cells {
            out.push_str(&format!(" {c} |"));
        }
        out.push_str(&format!(
            " {} | {} |\n",
            fmt_ratio(r.values[0], r.values[2], r.better),
            fmt_ratio(r.values[1], r.values[2], r.better)
        ));
    }
    out.push('\n');
}

fn mb(kb: Option<u64>) -> Option<f64> {
    kb.map(|k| k as f64 / 1024.0)
}

/// "total (a + b)" for systems of two processes.
fn per_process_cell(
    r: Option<&ApiSystemResults>,
    total: Option<f64>,
    part: &dyn Fn(&crate::api_results::ProcessFootprint) -> Option<f64>,
    decimals: usize,
) -> String {
    let Some(r) = r else {
        return "—".into();
    };
    let t = fmt_value(total, decimals);
    if r.footprint.processes.len() < 2 || total.is_none() {
        return t;
    }
    let parts: Vec<String> = r
        .footprint
        .processes
        .iter()
        .map(|p| fmt_value(part(p), decimals))
        .collect();
    format!("{t} ({})", parts.join(" + "))
}

fn footprint_rows(sys: &Systems) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut bin = numeric_row("binary size (MB)", Better::Lower, 1, sys, &|r| {
        r.footprint.binary_bytes().map(|b| b as f64 / 1e6)
    });
    for (i, s) in sys.all().iter().enumerate() {
        if let Some(r) = s {
            if r.footprint.binaries.len() > 1 {
                let parts: Vec<String> = r
                    .footprint
                    .binaries
                    .iter()
                    .map(|b| format!("{:.1}", b.bytes as f64 / 1e6))
                    .collect();
                bin.cells[i] = format!("{} ({})", bin.cells[i], parts.join(" + "));
            }
        }
    }
    rows.push(bin);
    rows.push(numeric_row(
        "cold start, exec → /readyz 200 (s)",
        Better::Lower,
        2,
        sys,
        &|r| r.footprint.cold_start_s,
    ));
    rows.push(numeric_row(
        "datastore start, exec → ready (s)",
        Better::Count,
        2,
        sys,
        &|r| r.footprint.datastore_start_s,
    ));
    type Total = fn(&ApiSystemResults) -> Option<f64>;
    type Part = fn(&crate::api_results::ProcessFootprint) -> Option<f64>;
    let mems: [(&str, Total, Part, usize); 4] = [
        (
            "RSS idle (MB)",
            |r| mb(r.footprint.rss_idle_kb()),
            |p| mb(p.rss_idle_kb),
            1,
        ),
        (
            "RSS at the end of the load (MB)",
            |r| mb(r.footprint.rss_end_kb()),
            |p| mb(p.rss_end_kb),
            1,
        ),
        (
            "peak RSS (MB)",
            |r| mb(r.footprint.rss_peak_kb()),
            |p| mb(p.rss_peak_kb),
            1,
        ),
        (
            "CPU used, start → end of the load (s)",
            |r| r.footprint.cpu_s(),
            |p| p.cpu_s,
            1,
        ),
    ];
    for (label, total, part, d) in mems {
        let values = sys.all().map(|s| s.and_then(total));
        let mut cells: [String; 4] = Default::default();
        for (i, s) in sys.all().iter().enumerate() {
            cells[i] = per_process_cell(*s, values[i], &part, d);
        }
        rows.push(Row {
            label: label.into(),
            better: Better::Lower,
            values,
            cells,
        });
    }
    if let Some(idle) = sys
        .all()
        .iter()
        .flatten()
        .map(|r| r.config.idle_s)
        .find(|&s| s > 0.0)
    {
        rows[3].label = format!("RSS idle, {idle:.0} s after start (MB)");
    }
    rows
}

fn levels(sys: &Systems, kind: &str) -> Vec<usize> {
    let mut s = BTreeSet::new();
    for r in sys.all().into_iter().flatten() {
        s.extend(r.crud.iter().filter(|c| c.kind == kind).map(|c| c.clients));
    }
    s.into_iter().collect()
}

fn plural_clients(n: usize) -> String {
    format!("{n} client{}", if n == 1 { "" } else { "s" })
}

fn lat_cell(l: &LatencySummary) -> String {
    format!("{:.1} / {:.1} / {:.0}", l.p50_ms, l.p99_ms, l.max_ms)
}

fn crud_rows(sys: &Systems, kind: &str) -> (Vec<Row>, Vec<Row>) {
    let mut rate = Vec::new();
    let mut lat = Vec::new();
    let get = |r: &ApiSystemResults, n: usize| -> Option<CrudResult> { r.crud(kind, n).cloned() };
    for op in ["create", "get", "update", "delete"] {
        for n in levels(sys, kind) {
            let label = format!("{op}, {}", plural_clients(n));
            rate.push(numeric_row(label.clone(), Better::Higher, 0, sys, &|r| {
                get(r, n).and_then(|c| c.op(op).map(|o| o.ops_per_s))
            }));
            let ops = sys
                .all()
                .map(|s| s.and_then(|r| get(r, n)).and_then(|c| c.op(op).cloned()));
            let values = ops
                .clone()
                .map(|o| o.filter(|o| o.ops > 0).map(|o| o.latency.p99_ms));
            let cells = ops.map(|o| match o {
                Some(o) if o.ops > 0 => lat_cell(&o.latency),
                Some(_) => "no successes".into(),
                None => "—".into(),
            });
            lat.push(Row {
                label: format!("{label}: p50 / p99 / max (ratio of p99)"),
                better: Better::Lower,
                values,
                cells,
            });
        }
    }
    (rate, lat)
}

fn human(n: usize) -> String {
    if n >= 1000 && n / 1000 * 1000 == n {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn list_rows(sys: &Systems) -> Vec<Row> {
    let mut sizes = BTreeSet::new();
    let mut limit = 0;
    for r in sys.all().into_iter().flatten() {
        sizes.extend(r.lists.iter().map(|l| l.objects));
        limit = limit.max(r.config.list_page_limit);
    }
    let mut rows = Vec::new();
    for n in sizes {
        let l = |r: &ApiSystemResults| r.lists.iter().find(|l| l.objects == n).cloned();
        rows.push(numeric_row(
            format!("list {} ConfigMaps, unpaged (s)", human(n)),
            Better::Lower,
            3,
            sys,
            &|r| l(r).and_then(|l| l.unpaged_median_s),
        ));
        rows.push(numeric_row(
            format!("list {} ConfigMaps, paged by {limit} (s)", human(n)),
            Better::Lower,
            3,
            sys,
            &|r| l(r).and_then(|l| l.paged_median_s),
        ));
        rows.push(numeric_row(
            format!("preload {} ConfigMaps (creates/s)", human(n)),
            Better::Higher,
            0,
            sys,
            &|r| {
                l(r).filter(|l| l.preload_s > 0.0)
                    .map(|l| n as f64 / l.preload_s)
            },
        ));
    }
    rows
}

fn watch_rows(sys: &Systems) -> Vec<Row> {
    let mut counts = BTreeSet::new();
    let mut rate = 0.0f64;
    for r in sys.all().into_iter().flatten() {
        counts.extend(r.watches.iter().map(|w| w.watchers));
        rate = rate.max(r.config.watch_rate);
    }
    let mut rows = Vec::new();
    for n in counts {
        let w = |r: &ApiSystemResults| r.watches.iter().find(|w| w.watchers == n).cloned();
        let has = |r: &ApiSystemResults| w(r).filter(|w| w.latency.count > 0);
        rows.push(numeric_row(
            format!("{n} watchers, {rate:.0} writes/s: delivery p50 (ms)"),
            Better::Lower,
            2,
            sys,
            &|r| has(r).map(|w| w.latency.p50_ms),
        ));
        rows.push(numeric_row(
            format!("{n} watchers: delivery p99 (ms)"),
            Better::Lower,
            2,
            sys,
            &|r| has(r).map(|w| w.latency.p99_ms),
        ));
        rows.push(numeric_row(
            format!("{n} watchers: delivery max (ms)"),
            Better::Lower,
            1,
            sys,
            &|r| has(r).map(|w| w.latency.max_ms),
        ));
        rows.push(numeric_row(
            format!("{n} watchers: create p99 of the writer (ms)"),
            Better::Lower,
            2,
            sys,
            &|r| {
                w(r).filter(|w| w.writes_ok > 0)
                    .map(|w| w.write_latency.p99_ms)
            },
        ));
        let mut md = numeric_row(
            format!("{n} watchers: events missed / duplicated"),
            Better::Count,
            0,
            sys,
            &|r| w(r).map(|w| (w.missed + w.duplicated) as f64),
        );
        for (i, s) in sys.all().iter().enumerate() {
            if let Some(w) = s.and_then(w) {
                md.cells[i] = format!("{} / {}", w.missed, w.duplicated);
            }
        }
        rows.push(md);
        rows.push(numeric_row(
            format!(
                "{n} watchers: streams the server ended (resumed from the last resourceVersion)"
            ),
            Better::Count,
            0,
            sys,
            &|r| w(r).map(|w| w.resumes as f64),
        ));
        rows.push(numeric_row(
            format!("{n} watchers: events delivered"),
            Better::Count,
            0,
            sys,
            &|r| w(r).map(|w| w.delivered as f64),
        ));
    }
    rows
}

fn cpu_rows(sys: &Systems) -> Vec<Row> {
    let mut phases: Vec<String> = Vec::new();
    for r in sys.all().into_iter().flatten() {
        for p in &r.cpu {
            if !phases.contains(&p.phase) {
                phases.push(p.phase.clone());
            }
        }
    }
    let mut rows = Vec::new();
    for ph in phases {
        let find = |r: &ApiSystemResults| r.cpu.iter().find(|p| p.phase == ph).cloned();
        let values = sys.all().map(|s| {
            s.and_then(find)
                .filter(|p| p.wall_s > 0.0)
                .map(|p| p.generator_cpu_s / p.wall_s)
        });
        let cells = sys.all().map(|s| match s.and_then(find) {
            Some(p) if p.wall_s > 0.0 => format!(
                "{:.0}% / {:.0}%",
                100.0 * p.generator_cpu_s / p.wall_s,
                100.0 * p.server_cpu_s / p.wall_s
            ),
            _ => "—".into(),
        });
        rows.push(Row {
            label: ph,
            better: Better::Count,
            values,
            cells,
        });
    }
    rows
}

fn error_rows(sys: &Systems) -> Vec<Row> {
    vec![numeric_row(
        "failed requests (all scenarios)",
        Better::Count,
        0,
        sys,
        &|r| Some(r.total_errors().errors as f64),
    )]
}

fn targets(sys: &Systems, out: &mut String) {
    let Some(k) = sys.k3rs_sqlite else {
        return;
    };
    let mark = |ok: bool| if ok { "PASS" } else { "MISS" };
    out.push_str("### k3rs (SQLite) targets\n\n");
    match mb(k.footprint.rss_idle_kb()) {
        Some(v) => out.push_str(&format!(
            "- idle RSS ≤ {TARGET_IDLE_RSS_MB:.0} MB: {} ({v:.1} MB)\n",
            mark(v <= TARGET_IDLE_RSS_MB)
        )),
        None => out.push_str("- idle RSS: not measured\n"),
    }
    match k.footprint.cold_start_s {
        Some(v) => out.push_str(&format!(
            "- cold start to /readyz ≤ {TARGET_COLD_START_S:.0} s: {} ({v:.2} s)\n",
            mark(v <= TARGET_COLD_START_S)
        )),
        None => out.push_str("- cold start: not measured\n"),
    }
    for kind in ["configmaps", "pods"] {
        for op in ["create", "get"] {
            let mine = k.crud(kind, 32).and_then(|c| c.op(op));
            let peer = sys
                .kube_etcd
                .and_then(|r| r.crud(kind, 32))
                .and_then(|c| c.op(op));
            match (mine, peer) {
                (Some(a), Some(b)) if b.ops_per_s > 0.0 => {
                    let x = a.ops_per_s / b.ops_per_s;
                    out.push_str(&format!(
                        "- {kind} {op} at 32 clients ≥ {TARGET_RATIO_AT_32:.0}× kube-apiserver+etcd: {} ({x:.2}×: {:.0}/s vs {:.0}/s)\n",
                        mark(x >= TARGET_RATIO_AT_32),
                        a.ops_per_s,
                        b.ops_per_s
                    ))
                }
                _ => out.push_str(&format!("- {kind} {op} at 32 clients: not measured\n")),
            }
        }
        for op in ["create", "update", "delete"] {
            if let Some(o) = k
                .crud(kind, 32)
                .and_then(|c| c.op(op))
                .filter(|o| o.ops > 0)
            {
                out.push_str(&format!(
                    "- {kind} {op} p99 at 32 clients ≤ {:.0} s: {} ({:.1} ms)\n",
                    TARGET_MUTATING_P99_MS / 1000.0,
                    mark(o.latency.p99_ms <= TARGET_MUTATING_P99_MS),
                    o.latency.p99_ms
                ));
            }
        }
    }
    match k.watches.iter().max_by_key(|w| w.watchers) {
        Some(w) if w.latency.count > 0 => {
            out.push_str(&format!(
                "- watch delivery p99 ≤ {TARGET_WATCH_P99_MS:.0} ms at {} watchers: {} ({:.2} ms)\n",
                w.watchers,
                mark(w.latency.p99_ms <= TARGET_WATCH_P99_MS),
                w.latency.p99_ms
            ));
            out.push_str(&format!(
                "- 0 missed watch events at {} watchers: {} ({} missed, {} duplicated)\n",
                w.watchers,
                mark(w.missed == 0 && w.duplicated == 0 && w.delivered > 0),
                w.missed,
                w.duplicated
            ));
        }
        _ => out.push_str("- watch: not measured\n"),
    }
    out.push('\n');
}

fn problems(sys: &Systems, out: &mut String) {
    let mut notes = Vec::new();
    for r in sys.all().into_iter().flatten() {
        for f in &r.fatal {
            notes.push(format!("- {}: scenario failed: {f}", r.name));
        }
        let t = r.total_errors();
        if !t.samples.is_empty() {
            notes.push(format!(
                "- {}: {} failed requests, e.g. {}",
                r.name,
                t.errors,
                t.samples
                    .iter()
                    .map(|m| {
                        let m: String = m.chars().take(200).collect();
                        format!("`{}`", m.replace('`', "'").replace('\n', " "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        for w in &r.watches {
            if w.established < w.watchers {
                notes.push(format!(
                    "- {}: only {} of {} watches were established before the writes began",
                    r.name, w.established, w.watchers
                ));
            }
            if !w.resume_reasons.samples.is_empty() {
                notes.push(format!(
                    "- {}: {} watchers: {} streams ended early and were resumed, e.g. {}",
                    r.name,
                    w.watchers,
                    w.resumes,
                    w.resume_reasons.samples.join("; ")
                ));
            }
            if w.out_of_order > 0 || w.unexpected > 0 {
                notes.push(format!(
                    "- {}: {} watchers: events out of order {}, unexpected {}",
                    r.name, w.watchers, w.out_of_order, w.unexpected
                ));
            }
        }
    }
    if !notes.is_empty() {
        out.push_str("### Problems seen\n\n");
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
        out.push('\n');
    }
}

/// All tables, the k3rs targets and any problems worth reading.
pub fn render(sys: &Systems) -> String {
    let mut out = String::new();
    table("Footprint", &footprint_rows(sys), &mut out);
    for kind in ["configmaps", "pods"] {
        let (rate, lat) = crud_rows(sys, kind);
        let title = if kind == "pods" {
            "Pods (unbound)"
        } else {
            "ConfigMaps"
        };
        table(&format!("{title}: requests/s"), &rate, &mut out);
        table(&format!("{title}: latency (ms)"), &lat, &mut out);
    }
    table("Lists (median of the repeats)", &list_rows(sys), &mut out);
    table("Watch fan-out", &watch_rows(sys), &mut out);
    table(
        "CPU while each phase ran: load generator / server processes (% of one core)",
        &cpu_rows(sys),
        &mut out,
    );
    table("Errors", &error_rows(sys), &mut out);
    out.push_str("↑ higher is better, ↓ lower is better; ratios are k3rs ÷ kube-apiserver+etcd (below 1× is better for ↓ rows).\n\n");
    targets(sys, &mut out);
    problems(sys, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_results::{
        ApiListResult, ApiWatchResult, BinarySize, Footprint, OpResult, ProcessFootprint,
    };

    fn op(name: &str, rate: f64, p99: f64) -> OpResult {
        OpResult {
            op: name.into(),
            ops: 100,
            ops_per_s: rate,
            latency: LatencySummary {
                count: 100,
                p50_ms: p99 / 4.0,
                p99_ms: p99,
                max_ms: p99 * 2.0,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn sys(name: &str, rate: f64, procs: &[(&str, u64)]) -> ApiSystemResults {
        ApiSystemResults {
            name: name.into(),
            footprint: Footprint {
                cold_start_s: Some(0.5),
                binaries: vec![BinarySize {
                    name: name.into(),
                    path: "/x".into(),
                    bytes: 20_000_000,
                }],
                processes: procs
                    .iter()
                    .map(|(n, kb)| ProcessFootprint {
                        name: n.to_string(),
                        rss_idle_kb: Some(*kb),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            crud: vec![CrudResult {
                kind: "configmaps".into(),
                clients: 32,
                ops: vec![
                    op("create", rate, 20.0),
                    op("get", rate * 2.0, 5.0),
                    op("update", rate, 20.0),
                    op("delete", rate, 20.0),
                ],
            }],
            lists: vec![ApiListResult {
                objects: 1000,
                unpaged_median_s: Some(0.1),
                paged_median_s: Some(0.2),
                preload_s: 1.0,
                page_limit: 500,
                ..Default::default()
            }],
            watches: vec![ApiWatchResult {
                watchers: 1000,
                established: 1000,
                delivered: 1000,
                latency: LatencySummary {
                    count: 1000,
                    p50_ms: 2.0,
                    p99_ms: 8.0,
                    ..Default::default()
                },
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn tables_with_ratios_and_targets() {
        let k = sys("k3rs-sqlite", 3000.0, &[("k3rs", 20 * 1024)]);
        let e = sys(
            "kube-apiserver+etcd",
            1000.0,
            &[("kube-apiserver", 200 * 1024), ("etcd", 40 * 1024)],
        );
        let out = render(&Systems {
            k3rs_sqlite: Some(&k),
            k3rs_etcd: None,
            kube_etcd: Some(&e),
            kube_k3rs: None,
        });
        assert!(
            out.contains("| create, 32 clients ↑ | 3,000 | — | 1,000 | — | 3.00× | — |"),
            "{out}"
        );
        assert!(
            out.contains(
                "| create, 32 clients: p50 / p99 / max (ratio of p99) ↓ | 5.0 / 20.0 / 40 |"
            ),
            "{out}"
        );
        assert!(
            out.contains("| RSS idle (MB) ↓ | 20.0 | — | 240.0 (200.0 + 40.0) | — | 0.08× | — |"),
            "{out}"
        );
        assert!(out.contains("- idle RSS ≤ 30 MB: PASS (20.0 MB)"), "{out}");
        assert!(
            out.contains("- configmaps create at 32 clients ≥ 2× kube-apiserver+etcd: PASS (3.00×"),
            "{out}"
        );
        assert!(
            out.contains("- watch delivery p99 ≤ 10 ms at 1000 watchers: PASS (8.00 ms)"),
            "{out}"
        );
        assert!(
            out.contains("| 1000 watchers: events missed / duplicated | 0 / 0 |"),
            "{out}"
        );
        assert!(
            out.contains("| list 1k ConfigMaps, unpaged (s) ↓ | 0.100 |"),
            "{out}"
        );
        assert!(!out.contains("Problems seen"), "{out}");
    }

    #[test]
    fn misses_and_failures_are_reported() {
        let mut k = sys("k3rs-sqlite", 1500.0, &[("k3rs", 40 * 1024)]);
        k.watches[0].missed = 3;
        k.crud[0].ops[0]
            .errors
            .record("429 TooManyRequests: too many requests");
        k.fatal.push("list 50000: connection refused".into());
        let e = sys("kube-apiserver+etcd", 1000.0, &[("kube-apiserver", 1)]);
        let out = render(&Systems {
            k3rs_sqlite: Some(&k),
            k3rs_etcd: None,
            kube_etcd: Some(&e),
            kube_k3rs: None,
        });
        assert!(out.contains("- idle RSS ≤ 30 MB: MISS (40.0 MB)"), "{out}");
        assert!(out.contains("MISS (1.50×"), "{out}");
        assert!(
            out.contains("- 0 missed watch events at 1000 watchers: MISS (3 missed"),
            "{out}"
        );
        assert!(
            out.contains("scenario failed: list 50000: connection refused"),
            "{out}"
        );
        assert!(
            out.contains("`429 TooManyRequests: too many requests`"),
            "{out}"
        );
    }
}
