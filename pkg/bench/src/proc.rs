//! CPU time and memory of processes, from Linux' `/proc`.

use anyhow::{anyhow, Context, Result};

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds.
fn parse_stat_cpu(stat: &str) -> Result<f64> {
    // The command name (field 2) may contain spaces; fields after it follow its ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("malformed stat line"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let get = |i: usize| -> Result<f64> {
        fields
            .get(i - 3)
            .ok_or_else(|| anyhow!("stat line has no field {i}"))?
            .parse::<f64>()
            .with_context(|| format!("stat field {i}"))
    };
    Ok((get(14)? + get(15)?) / clock_ticks())
}

fn stat_cpu(path: &str) -> Result<f64> {
    parse_stat_cpu(&std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?)
}

/// CPU seconds (user + system) process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    stat_cpu(&format!("/proc/{pid}/stat"))
}

/// CPU seconds (user + system) this process has used so far.
pub fn self_cpu_seconds() -> Result<f64> {
    stat_cpu("/proc/self/stat")
}

fn status_kb(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let s = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_status_kb(&s, field).ok_or_else(|| anyhow!("{path} has no {field}"))
}

fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let v = l.strip_prefix(field)?.strip_prefix(':')?;
        v.split_whitespace().next()?.parse().ok()
    })
}

/// Resident set size of `pid`, KiB.
pub fn rss_kb(pid: u32) -> Result<u64> {
    status_kb(pid, "VmRSS")
}

/// Peak resident set size (VmHWM) of `pid`, KiB.
pub fn peak_rss_kb(pid: u32) -> Result<u64> {
    status_kb(pid, "VmHWM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces() {
        let line =
            "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 5 1000 10";
        let ticks = clock_ticks();
        assert!((parse_stat_cpu(line).unwrap() - 300.0 / ticks).abs() < 1e-9);
        assert!(parse_stat_cpu("garbage").is_err());
    }

    #[test]
    fn status_fields() {
        let s = "Name:\tx\nVmHWM:\t  12345 kB\nVmRSS:\t   2345 kB\n";
        assert_eq!(parse_status_kb(s, "VmRSS"), Some(2345));
        assert_eq!(parse_status_kb(s, "VmHWM"), Some(12345));
        assert_eq!(parse_status_kb(s, "VmSwap"), None);
    }

    #[test]
    fn own_process_is_readable() {
        let me = std::process::id();
        assert!(rss_kb(me).unwrap() > 0);
        assert!(self_cpu_seconds().unwrap() >= 0.0);
    }
}
