//! The progress of a simulation on stderr, and the check for an interrupt.
//!
//! [`Monitor::observe`] is the observer of
//! [`nmlc_runtime::network::Simulation::run_observed`], called after every
//! step. Per step it loads the interrupt flag and counts down to the next
//! look at the clock; the clock is read about every 50 ms of wall time (the
//! number of steps between two readings follows the measured speed), and the
//! display is updated at most 10 times per second on a terminal (a progress
//! bar, redrawn in place) and once per second otherwise (plain lines, so
//! that logs stay readable).
//!
//! What is shown: model time reached and total, the time left at the speed
//! so far (ETA), wall time, the real-time factor (model time per wall time)
//! and spikes so far.

use crate::ProgressArg;
use crate::interrupt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nmlc_runtime::network::Progress;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Wall time between two readings of the clock.
const CHECK_EVERY: Duration = Duration::from_millis(50);
/// Wall time between two redraws of the bar.
const BAR_EVERY: Duration = Duration::from_millis(100);
/// Wall time between two plain lines.
const LINE_EVERY: Duration = Duration::from_secs(1);

/// Watches one run: shows its progress and stops it on an interrupt.
pub struct Monitor {
    display: Display,
    /// What `label` the lines start with (`[2/4] g=4: `; empty for `nmlc run`).
    label: String,
    interrupt: Option<Arc<AtomicBool>>,
    started: Instant,
    /// Steps left until the clock is read again.
    countdown: u64,
    /// When and at which step the clock was last read.
    checked: (Instant, u64),
    shown: Instant,
    last: Option<Progress>,
}

/// Where the progress goes.
enum Display {
    Nothing,
    Bar(ProgressBar),
    Lines,
}

impl Monitor {
    /// A monitor for a run, showing its progress as `mode` and `quiet`
    /// say: `auto` shows a bar when stderr is a terminal and nmlc is not
    /// `--quiet`; `always` also shows it with `--quiet`, as plain lines when
    /// stderr is not a terminal; `never` shows nothing.
    pub fn new(mode: ProgressArg, quiet: bool, label: String) -> Monitor {
        let terminal = std::io::stderr().is_terminal();
        let display = match mode {
            ProgressArg::Never => Display::Nothing,
            ProgressArg::Auto if quiet || !terminal => Display::Nothing,
            ProgressArg::Always if !terminal => Display::Lines,
            ProgressArg::Auto | ProgressArg::Always => Display::Bar(bar(&label)),
        };
        let now = Instant::now();
        Monitor {
            display,
            label,
            interrupt: interrupt::flag(),
            started: now,
            countdown: 1,
            checked: (now, 0),
            shown: now,
            last: None,
        }
    }

    /// Called after every step: whether the run goes on (`false` once a
    /// signal asked it to stop).
    pub fn observe(&mut self, p: &Progress) -> bool {
        if self
            .interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
        {
            return false;
        }
        if matches!(self.display, Display::Nothing) {
            return true;
        }
        self.last = Some(*p);
        self.countdown -= 1;
        if self.countdown > 0 {
            return true;
        }
        let now = Instant::now();
        let (at, steps) = self.checked;
        let per_second = (p.steps_done - steps) as f64 / (now - at).as_secs_f64().max(1e-9);
        self.countdown = ((per_second * CHECK_EVERY.as_secs_f64()) as u64).clamp(1, 1 << 20);
        self.checked = (now, p.steps_done);
        let every = match self.display {
            Display::Bar(_) => BAR_EVERY,
            _ => LINE_EVERY,
        };
        if now - self.shown >= every {
            self.shown = now;
            self.show(p, now);
        }
        true
    }

    /// Ends the display before the phase lines that follow: clears the
    /// bar, or prints a last plain line.
    pub fn finish(self) {
        match &self.display {
            Display::Bar(bar) => bar.finish_and_clear(),
            Display::Lines => {
                if let Some(p) = &self.last {
                    self.show(p, Instant::now());
                }
            }
            Display::Nothing => {}
        }
    }

    fn show(&self, p: &Progress, now: Instant) {
        let text = status(p, (now - self.started).as_secs_f64());
        match &self.display {
            Display::Bar(bar) => {
                if bar.length() != Some(p.steps) {
                    bar.set_length(p.steps);
                }
                bar.set_message(text);
                bar.set_position(p.steps_done);
            }
            Display::Lines => eprintln!("nmlc: {}simulating: {text}", self.label),
            Display::Nothing => {}
        }
    }
}

/// A bar on stderr (drawn only on a terminal).
fn bar(label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
    // The message is cut to the terminal's width rather than wrapped.
    if let Ok(style) = ProgressStyle::with_template("{prefix}[{bar:16}] {wide_msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_string());
    bar
}

/// `t = 512.3 / 1000 ms (51%), ETA 2.0 s, wall 2.1 s, 0.24x real time,
/// 1234 spike(s)`: what matters most first, as a narrow terminal cuts the
/// end.
fn status(p: &Progress, wall_s: f64) -> String {
    let total_ms = p.steps as f64 * p.t_ms / p.steps_done.max(1) as f64;
    let percent = 100 * p.steps_done / p.steps.max(1);
    let eta_s = wall_s * (p.steps - p.steps_done) as f64 / p.steps_done.max(1) as f64;
    format!(
        "t = {} ({percent}%), ETA {}, wall {}, {}x real time, {} spike(s)",
        model_time(p.t_ms, total_ms),
        wall_time(eta_s),
        wall_time(wall_s),
        factor(p.t_ms / 1000.0 / wall_s.max(1e-9)),
        p.spikes,
    )
}

/// `512.3 / 1000 ms`, or in seconds for runs of 10 s and more.
fn model_time(t_ms: f64, total_ms: f64) -> String {
    if total_ms >= 10_000.0 {
        format!("{:.2} / {} s", t_ms / 1000.0, rounded(total_ms / 1000.0))
    } else {
        format!("{t_ms:.1} / {} ms", rounded(total_ms))
    }
}

/// `x` without the last bits of rounding error (`1000`, not `999.9999999999999`).
fn rounded(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// `2.1 s`, `3 min 05 s`, `2 h 03 min`.
fn wall_time(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        let s = s.round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        let m = (s / 60.0).round() as u64;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

/// A ratio with two significant digits (`0.24`, `3.1`, `120`).
fn factor(x: f64) -> String {
    if x.is_nan() || x <= 0.0 {
        return "0".to_string();
    }
    let decimals = (1.0 - x.log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_says_time_speed_spikes_and_eta() {
        let p = Progress {
            steps_done: 5000,
            steps: 10000,
            t_ms: 500.0,
            spikes: 1234,
        };
        assert_eq!(
            status(&p, 2.0),
            "t = 500.0 / 1000 ms (50%), ETA 2.0 s, wall 2.0 s, 0.25x real time, 1234 spike(s)"
        );
    }

    #[test]
    fn times_and_factors_read_well() {
        assert_eq!(model_time(51234.5, 100_000.0), "51.23 / 100 s");
        assert_eq!(wall_time(185.0), "3 min 05 s");
        assert_eq!(wall_time(7380.0), "2 h 03 min");
        assert_eq!(factor(0.0012345), "0.0012");
        assert_eq!(factor(3.0625), "3.1");
        assert_eq!(factor(123.4), "123");
    }
}
