//! Long runs: the progress display, the build line, and SIGINT or SIGTERM
//! stopping `nmlc run` and `nmlc sweep` at the end of a step with everything
//! recorded until then written, `"interrupted": true`, and exit code 130.

#![cfg(unix)]

mod common;

use common::{nmlc, read, scratch, scratch_model, spikes, summary, text};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Twenty LIF neurons under constant currents, firing at 30-60 Hz, for
/// 10,000 s of model time: minutes of wall time, far more than any test
/// waits.
const LONG: &str = "
import stdlib.neurons.lif

network Long {
    dt = 0.1 ms
    duration = 10000 s
    P = LIF(20) { I_e = 400 pA + 10 pA * i }
    record spikes of P
}
";

/// A running `nmlc` whose stderr is read line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nmlc"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nmlc starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            stderr: Vec::new(),
        }
    }

    /// Waits for a line of stderr containing `text` (the run is killed and
    /// the test fails after 60 s).
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            let found = line.contains(text);
            self.stderr.push(line);
            if found {
                return;
            }
        }
        let _ = self.child.kill();
        panic!("no `{text}` on stderr:\n{}", self.stderr.join("\n"));
    }

    /// Sends `signal` (`INT`, `TERM`) with the `kill` command.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the exit (the run is killed and the test fails after
    /// 60 s); returns the exit code and all of stderr.
    fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for nmlc") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "nmlc did not stop after the signal:\n{}",
                    self.stderr.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.stderr.extend(self.lines.iter());
        let stderr = self.stderr.join("\n");
        let code = status
            .code()
            .unwrap_or_else(|| panic!("nmlc was killed by a signal ({status}):\n{stderr}"));
        (code, stderr)
    }
}

/// Checks an interrupted run's folder: `interrupted`, a time reached
/// inside the run, and complete spikes up to it.
fn check_interrupted(out: &Path) {
    let s = summary(out);
    assert_eq!(s["interrupted"], true, "{s}");
    let reached = s["t_reached_ms"].as_f64().expect("t_reached_ms");
    let duration = s["duration_ms"].as_f64().expect("duration_ms");
    assert!(
        0.0 < reached && reached < duration,
        "{reached} ms of {duration}"
    );
    let table = read(&out.join("spikes.csv"));
    assert!(table.ends_with('\n'), "the last line is complete");
    let rows = spikes(out);
    assert!(!rows.is_empty(), "spikes were recorded");
    assert!(rows.iter().all(|(_, _, t)| *t <= reached + 1e-9));
    assert_eq!(
        rows.len() as u64,
        s["populations"]["P"]["spikes"].as_u64().unwrap()
    );
}

/// Starts a long `nmlc run`, waits until it reports progress, sends
/// `signal` and checks what it left.
fn interrupt_run(name: &str, signal: &str) {
    let (dir, file) = scratch_model(name, LONG);
    let out = dir.join("out");
    let mut run = Running::start(&["run", text(&file), "-o", text(&out), "--progress", "always"]);
    run.wait_for("simulating:");
    run.signal(signal);
    let (code, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("nmlc: interrupted at t = "), "{stderr}");
    check_interrupted(&out);
}

#[test]
fn ctrl_c_stops_a_run_and_writes_what_it_recorded() {
    interrupt_run("sigint", "INT");
}

#[test]
fn sigterm_stops_a_run_and_writes_what_it_recorded() {
    interrupt_run("sigterm", "TERM");
}

#[test]
fn an_interrupted_sweep_writes_its_table_and_starts_no_other_run() {
    let (dir, file) = scratch_model("sweep", LONG);
    let out = dir.join("out");
    let mut run = Running::start(&[
        "sweep",
        text(&file),
        "-o",
        text(&out),
        "--progress",
        "always",
        "--set",
        "P.tau_m=10ms,20ms",
    ]);
    run.wait_for("[1/2] P.tau_m=10ms: simulating:");
    run.signal("INT");
    let (code, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");
    check_interrupted(&out.join("P.tau_m=10ms"));
    assert!(!out.join("P.tau_m=20ms").exists(), "{stderr}");
    let table = read(&out.join("sweep.csv"));
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(rows[0].contains(",interrupted,"), "{table}");
}

#[test]
fn progress_always_prints_plain_lines_into_a_pipe() {
    let out = scratch("progress").join("out");
    let r = nmlc(&[
        "run",
        "examples/lif_analytic.nml",
        "-o",
        text(&out),
        "--progress",
        "always",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // One line at the end at least; lines, not redraws, in a pipe.
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("nmlc: simulating: t = "))
        .unwrap_or_else(|| panic!("no progress line:\n{}", r.stderr));
    for part in [
        "t = 1000.0 / 1000 ms (100%)",
        "ETA 0.0 s",
        "wall ",
        "x real time",
        "63 spike(s)",
    ] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert!(!r.stderr.contains('\x1b') && !r.stderr.contains('\r'));
    let simulate = r.stderr.find("nmlc: simulate ").expect("simulate line");
    assert!(
        r.stderr.find("simulating:").unwrap() < simulate,
        "the progress ends before the phase line"
    );
    for mode in ["auto", "never"] {
        let r = nmlc(&[
            "run",
            "examples/lif_analytic.nml",
            "-o",
            text(&out),
            "--overwrite",
            "--progress",
            mode,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(!r.stderr.contains("simulating"), "{mode}: {}", r.stderr);
    }
}

#[test]
fn the_build_line_counts_neurons_and_synapses() {
    let out = scratch("build-line").join("out");
    let r = nmlc(&[
        "run",
        "examples/cuba.nml",
        "-o",
        text(&out),
        "--duration",
        "20ms",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let synapses = summary(&out)["synapses"].as_u64().unwrap();
    assert!(synapses > 0);
    // bench/run_peers.py reads `(\d+) synapse`, `(\d+) neuron`,
    // `([0-9.]+) million per second` and `([0-9.]+) bytes per synapse`:
    // plain digits.
    let bytes = summary(&out)["synapse_bytes"].as_u64().unwrap();
    // A static synapse with a projection-wide weight and delay: a 4-byte
    // target index plus 8 bytes of row offset per source neuron.
    assert!(bytes >= 4 * synapses && bytes <= 4 * synapses + 8 * 2 * 4001 + 4 * 3 * 4000);
    let rate = summary(&out)["synapses_built_per_s"].as_f64().unwrap();
    let build_s = summary(&out)["timing_s"]["build"].as_f64().unwrap();
    assert_eq!(rate, synapses as f64 / build_s);
    let expected = format!(
        ": 4000 neuron(s), {synapses} synapse(s) ({:.1} million per second), {:.1} bytes per synapse",
        rate / 1e6,
        bytes as f64 / synapses as f64
    );
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with("nmlc: build ") && l.ends_with(&expected)),
        "{expected}: {}",
        r.stderr
    );
}
