//! Checks before a network is built: recordings within `--max-record`, and
//! a memory estimate within what the machine has left (unless `--force`).
//!
//! Both look at [`nmlc_runtime::network::estimate`], worked out from the
//! compiled network alone, so a run that cannot fit stops in a moment, with
//! the biggest consumers named, instead of after minutes of building or in
//! the out-of-memory killer's hands.

use std::process::ExitCode;

use nmlc_compiler::Compilation;
use nmlc_runtime::host;
use nmlc_runtime::network::CompiledNetwork;
use nmlc_runtime::network::estimate::{MemoryEstimate, estimate};

use crate::RunArgs;
use crate::commands::report_run_error;

/// `--max-record`'s default: 4 GiB.
pub const DEFAULT_MAX_RECORD: &str = "4GiB";

/// How many consumers a refusal names.
const LARGEST: usize = 5;

/// Runs both checks; on refusal reports why and gives the exit code (3 for
/// a run that does not fit in memory, 2 for recordings over
/// `--max-record`). Memory comes first: `--force` lets a run past it, never
/// past the recording limit.
pub fn check(c: &Compilation, compiled: &CompiledNetwork, args: &RunArgs) -> Result<(), ExitCode> {
    let estimate = estimate(compiled).map_err(|e| report_run_error(c, &e))?;
    check_memory(&estimate, host::available_memory_bytes(), args)?;
    check_recordings(&estimate, args.max_record)
}

/// Refuses traces and rates that would take more than `limit` bytes.
fn check_recordings(estimate: &MemoryEstimate, limit: u64) -> Result<(), ExitCode> {
    let recordings: Vec<_> = estimate.known_recordings().collect();
    let total = recordings
        .iter()
        .fold(0u64, |sum, r| sum.saturating_add(r.bytes));
    if total <= limit {
        return Ok(());
    }
    eprintln!(
        "nmlc: the recordings would take {}, more than --max-record ({}):",
        bytes(total),
        bytes(limit)
    );
    for r in recordings.iter().take(LARGEST) {
        eprintln!("        {}: {} ({})", r.name, bytes(r.bytes), r.detail);
    }
    if recordings.len() > LARGEST {
        eprintln!("        … and {} more", recordings.len() - LARGEST);
    }
    eprintln!(
        "      record fewer neurons (`record V_m of P[0:100]`), sample less often (a longer `every`), \
         shorten the run (--duration), or raise the limit (--max-record {})",
        bytes(total.saturating_mul(2)).replace(' ', "")
    );
    Err(ExitCode::from(2))
}

/// Refuses a run whose estimate exceeds `available` (unless `--force`).
fn check_memory(
    estimate: &MemoryEstimate,
    available: Option<u64>,
    args: &RunArgs,
) -> Result<(), ExitCode> {
    let total = estimate.total();
    let Some(available) = available.filter(|a| total > *a) else {
        return Ok(());
    };
    let verdict = if args.force { "warning: " } else { "" };
    eprintln!(
        "nmlc: {verdict}this run needs about {} of memory, but only {} is available; the largest parts:",
        bytes(total),
        bytes(available)
    );
    for part in estimate.consumers.iter().take(LARGEST) {
        eprintln!(
            "        {}: {} ({})",
            part.name,
            bytes(part.bytes),
            part.detail
        );
    }
    if args.force {
        eprintln!("      running anyway (--force)");
        return Ok(());
    }
    eprintln!(
        "      make the network or its recordings smaller, or pass --force to run it anyway \
         (the estimate is in docs/cli.md)"
    );
    Err(ExitCode::from(3))
}

/// A `--max-record` size: a number of bytes with an optional unit (`B`,
/// `kB`, `MB`, `GB`, `TB` in powers of 1000; `KiB`, `MiB`, `GiB`, `TiB` in
/// powers of 1024; case does not matter), or `none` for no limit.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(u64::MAX);
    }
    let split = t
        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim());
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as `2GB`, `512MiB` or `none`"))?;
    let factor: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "tb" | "t" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`; use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB"
            ));
        }
    };
    Ok((number * factor).round().min(u64::MAX as f64) as u64)
}

/// A size for people: `512 B`, `1.5 KiB`, `12.0 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_decimal_and_binary_units() {
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("512 mib"), Ok(512 << 20));
        assert_eq!(parse_size("1.5kB"), Ok(1500));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("none"), Ok(u64::MAX));
        assert!(parse_size("2 parsecs").is_err());
        assert!(parse_size("GB").is_err());
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(4 << 30), "4.0 GiB");
        assert_eq!(parse_size(&bytes(3 << 20).replace(' ', "")), Ok(3 << 20));
    }
}
