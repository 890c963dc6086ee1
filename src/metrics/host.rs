//! Readings of the host and of the daemon's own process from `/proc` (procfs) and
//! `statvfs(3)`, for `GET /metrics` and the `process_*` series of the Prometheus
//! exposition (names from the Prometheus client library guidelines, "Process metrics").

use procfs::{Current, CurrentSI};
use serde::Serialize;
use std::path::Path;

/// The daemon process (`/proc/self`).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = ProcessReading)]
pub struct Process {
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// Virtual memory size, bytes.
    pub virtual_bytes: u64,
    /// User + system CPU time since start, seconds.
    pub cpu_seconds: f64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// The soft limit on open file descriptors (`RLIMIT_NOFILE`).
    pub max_fds: u64,
    /// Threads of the process.
    pub threads: u64,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// Reads the daemon's own process; fields that cannot be read are 0.
pub fn process() -> Process {
    let Ok(me) = procfs::process::Process::myself() else {
        return Process::default();
    };
    let ticks = procfs::ticks_per_second() as f64;
    let mut p = Process::default();
    if let Ok(stat) = me.stat() {
        p.rss_bytes = stat.rss * procfs::page_size();
        p.virtual_bytes = stat.vsize;
        p.cpu_seconds = (stat.utime + stat.stime) as f64 / ticks;
        p.threads = stat.num_threads.max(0) as u64;
        if let Ok(boot) = procfs::boot_time_secs() {
            p.start_time_seconds = boot as f64 + stat.starttime as f64 / ticks;
        }
    }
    p.open_fds = me.fd_count().unwrap_or(0) as u64;
    if let Ok(limits) = me.limits() {
        p.max_fds = match limits.max_open_files.soft_limit {
            procfs::process::LimitValue::Value(v) => v,
            procfs::process::LimitValue::Unlimited => 0,
        };
    }
    p
}

/// Cumulative CPU ticks of the whole host (`/proc/stat`), to turn into a usage share
/// between two readings ([`CpuTicks::usage_percent`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTicks {
    busy: u64,
    total: u64,
}

impl CpuTicks {
    /// Reads `/proc/stat`; zeroes when it cannot be read.
    pub fn now() -> CpuTicks {
        let Ok(k) = procfs::KernelStats::current() else {
            return CpuTicks::default();
        };
        let t = k.total;
        let idle = t.idle + t.iowait.unwrap_or(0);
        let total = t.user
            + t.nice
            + t.system
            + idle
            + t.irq.unwrap_or(0)
            + t.softirq.unwrap_or(0)
            + t.steal.unwrap_or(0);
        CpuTicks {
            busy: total - idle,
            total,
        }
    }

    /// Share of all CPUs' time that was busy between `earlier` and `self`, percent
    /// (0–100); `None` when no time passed.
    pub fn usage_percent(&self, earlier: &CpuTicks) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let busy = self.busy.saturating_sub(earlier.busy);
        (total > 0).then(|| (busy as f64 * 1000.0 / total as f64).round() / 10.0)
    }
}

/// The host: load, memory, CPUs.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = HostReading)]
pub struct Host {
    /// Logical CPUs.
    pub cpus: usize,
    /// Load averages over 1, 5 and 15 minutes.
    pub load: [f64; 3],
    /// Total memory, bytes.
    pub memory_total_bytes: u64,
    /// Memory available to new work without swapping (`MemAvailable`), bytes.
    pub memory_available_bytes: u64,
}

/// Reads the host's load and memory; fields that cannot be read are 0.
pub fn host() -> Host {
    let mut h = Host {
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        ..Host::default()
    };
    if let Ok(l) = procfs::LoadAverage::current() {
        h.load = [l.one, l.five, l.fifteen].map(|v| (f64::from(v) * 100.0).round() / 100.0);
    }
    if let Ok(m) = procfs::Meminfo::current() {
        h.memory_total_bytes = m.mem_total;
        h.memory_available_bytes = m.mem_available.unwrap_or(m.mem_free);
    }
    h
}

/// Space of the file system holding a directory.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = DiskSpace)]
pub struct Disk {
    /// The directory asked about.
    pub path: String,
    /// Size of its file system, bytes.
    pub total_bytes: u64,
    /// Bytes available to the daemon's user.
    pub free_bytes: u64,
}

/// `statvfs(3)` of `dir`; `None` when it cannot be read (missing directory).
pub fn disk(dir: &Path) -> Option<Disk> {
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    let frag = s.fragment_size() as u64;
    Some(Disk {
        path: dir.display().to_string(),
        total_bytes: s.blocks() as u64 * frag,
        free_bytes: s.blocks_available() as u64 * frag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_and_host_read_as_plausible_numbers() {
        let p = process();
        assert!(
            p.rss_bytes > 0 && p.threads >= 1 && p.open_fds >= 3,
            "{p:?}"
        );
        assert!(p.start_time_seconds > 1.6e9, "{p:?}");
        let h = host();
        assert!(h.cpus >= 1 && h.memory_total_bytes >= h.memory_available_bytes);
        let d = disk(Path::new("/")).map(|d| (d.total_bytes, d.free_bytes));
        assert!(matches!(d, Some((t, f)) if t >= f && t > 0));
        assert!(disk(Path::new("/no/such/dir")).is_none());
    }

    #[test]
    fn cpu_usage_is_a_share_of_ticks_between_readings() {
        let a = CpuTicks {
            busy: 100,
            total: 1000,
        };
        let b = CpuTicks {
            busy: 150,
            total: 1200,
        };
        assert_eq!(b.usage_percent(&a), Some(25.0));
        assert_eq!(a.usage_percent(&a), None);
        assert_eq!(a.usage_percent(&b), None);
    }
}
