//! What the machine says about memory: how much a run may still take, and
//! the most this process has held.
//!
//! On Linux both come from the kernel's text files: `MemAvailable` of
//! `/proc/meminfo` (what can be allocated without swapping, counting caches
//! the kernel would drop) and `VmHWM` of `/proc/self/status` (the peak
//! resident set size, the "high water mark"). A process in a cgroup with a
//! memory limit (a container, a batch job) may have less than the machine:
//! the room left under `memory.max` of the cgroup v2 hierarchy counts too.
//! Elsewhere the functions return `None` and the callers skip the checks.

/// The memory a run may still allocate, in bytes: the smaller of the
/// machine's `MemAvailable` and the room left under the process's cgroup
/// limit; `None` where the system does not say.
pub fn available_memory_bytes() -> Option<u64> {
    let machine = read("/proc/meminfo").and_then(|text| kib_field(&text, "MemAvailable"))?;
    Some(match cgroup_room() {
        Some(room) => machine.min(room),
        None => machine,
    })
}

/// The peak resident memory of this process so far, in bytes; `None` where
/// the system does not say.
pub fn peak_memory_bytes() -> Option<u64> {
    read("/proc/self/status").and_then(|text| kib_field(&text, "VmHWM"))
}

/// The value of a `Key:   1234 kB` line of a `/proc` file, in bytes.
pub fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, rest) = line.split_once(':')?;
        if name.trim() != key {
            return None;
        }
        let mut words = rest.split_whitespace();
        let value: u64 = words.next()?.parse().ok()?;
        match words.next() {
            Some("kB") => value.checked_mul(1024),
            None => Some(value),
            Some(_) => None,
        }
    })
}

/// `memory.max − memory.current` of this process's cgroup (v2), if it has a
/// limit.
fn cgroup_room() -> Option<u64> {
    // `0::/some/path` is the cgroup v2 line of /proc/self/cgroup.
    let membership = read("/proc/self/cgroup")?;
    let path = membership
        .lines()
        .find_map(|l| l.strip_prefix("0::"))?
        .trim();
    let dir = format!("/sys/fs/cgroup{path}");
    let max: u64 = read(&format!("{dir}/memory.max"))?.trim().parse().ok()?;
    let current: u64 = read(&format!("{dir}/memory.current"))?
        .trim()
        .parse()
        .ok()?;
    Some(max.saturating_sub(current))
}

#[cfg(target_os = "linux")]
fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[cfg(not(target_os = "linux"))]
fn read(_path: &str) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_are_read_in_bytes() {
        let status = "Name:\tnmlc\nVmPeak:\t  200 kB\nVmHWM:\t    1536 kB\nThreads:\t3\n";
        assert_eq!(kib_field(status, "VmHWM"), Some(1536 * 1024));
        assert_eq!(kib_field(status, "Threads"), Some(3));
        assert_eq!(kib_field(status, "VmRSS"), None);
        assert_eq!(kib_field("MemAvailable: lots kB", "MemAvailable"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_reports_memory() {
        let peak = peak_memory_bytes().expect("VmHWM on Linux");
        assert!(peak > 1 << 20, "{peak}");
        assert!(available_memory_bytes().expect("MemAvailable on Linux") > 0);
    }
}
