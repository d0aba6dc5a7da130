//! Resource use of this process and the limits it runs under, read from
//! `/proc` and the cgroup (v2, then v1) files, falling back to the machine's
//! totals where no limit is set. Off Linux every reading is zero.

use std::fs;

/// Linux reports CPU times in clock ticks of `USER_HZ`, fixed at 100 for
/// user space on every architecture tenk targets.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    pub resident_memory_bytes: u64,
    pub cpu_seconds_total: f64,
    pub open_fds: u64,
    /// Seconds since the Unix epoch at which the process started.
    pub start_time_seconds: f64,
}

/// Reads the current process's statistics.
pub fn stats() -> ProcessStats {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |index: usize| -> f64 {
        fields
            .get(index)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After ')' the fields start at "state" (field 3 of proc(5)): utime is 14, stime 15,
    // starttime 22, rss 24, so their indexes here are 11, 12, 19 and 21.
    let cpu_ticks = field(11) + field(12);
    let start_ticks = field(19);
    let page_size = 4096.0;
    ProcessStats {
        resident_memory_bytes: (field(21) * page_size) as u64,
        cpu_seconds_total: cpu_ticks / TICKS_PER_SECOND,
        open_fds: fs::read_dir("/proc/self/fd").map_or(0, |entries| entries.count() as u64),
        start_time_seconds: boot_time_seconds() + start_ticks / TICKS_PER_SECOND,
    }
}

fn boot_time_seconds() -> f64 {
    fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The memory this process may use: the cgroup limit, else the machine's RAM.
pub fn memory_limit_bytes() -> u64 {
    let cgroup_limit = read_number("/sys/fs/cgroup/memory.max")
        .or_else(|| read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
    let machine = machine_memory_bytes();
    match cgroup_limit {
        // cgroup v1 reports "no limit" as a huge number.
        Some(limit) if machine == 0 || limit < machine => limit,
        _ => machine,
    }
}

fn machine_memory_bytes() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// The CPU cores this process may use: the cgroup quota, else the cores it sees.
pub fn cpu_cores() -> f64 {
    let visible = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let quota = fs::read_to_string("/sys/fs/cgroup/cpu.max")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace();
            let quota: f64 = parts.next()?.parse().ok()?;
            let period: f64 = parts.next()?.parse().ok()?;
            (period > 0.0).then_some(quota / period)
        });
    quota.map_or(visible, |cores| cores.min(visible))
}

/// The soft limit on open files (`ulimit -n`), from `/proc/self/limits`.
pub fn max_open_files() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Open connections allowed by default: 2,048 per core (each holds hyper's
/// buffers, so this bounds memory under a flood of clients; a proxy in
/// front keeps far fewer), and never more than the descriptor limit less
/// room for pools, Redis, logs and the listener; at least 64.
pub fn default_max_connections(cores: usize) -> usize {
    let by_descriptors =
        usize::try_from(max_open_files().unwrap_or(1024).saturating_sub(256)).unwrap_or(usize::MAX);
    by_descriptors.min(2048 * cores.max(1)).max(64)
}

fn read_number(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_plausible_for_this_process() {
        let stats = stats();
        assert!(stats.resident_memory_bytes > 1024 * 1024, "{stats:?}");
        assert!(stats.open_fds >= 3, "{stats:?}");
        assert!(stats.start_time_seconds > 1.6e9, "{stats:?}");
        assert!(memory_limit_bytes() >= stats.resident_memory_bytes);
        assert!(cpu_cores() > 0.0);
    }
}
