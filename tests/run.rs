//! Integration tests of `nmlc run` and `nmlc ir`: result files and their
//! formats, settings from the file and the command line, exit codes, and a
//! simulation held to its analytic answer.

mod common;

use common::{nmlc, read, scratch, scratch_model, spikes, summary, text};
use std::path::{Path, PathBuf};

/// Runs examples/lif_analytic.nml with `backend`; `None` if the backend is
/// not available on this build (reported, not failed).
fn run_lif(backend: &str, extra: &[&str]) -> Option<PathBuf> {
    let dir = scratch(&format!(
        "lif_{backend}_{}",
        extra.join("_").replace(['-', ' '], "")
    ));
    let out = dir.join("out");
    let mut args = vec![
        "run",
        "examples/lif_analytic.nml",
        "-o",
        text(&out),
        "--backend",
        backend,
        "-q",
    ];
    args.extend_from_slice(extra);
    let r = nmlc(&args);
    if backend == "jit" && r.code == 3 {
        eprintln!("skipping the jit backend: {}", r.stderr.trim());
        return None;
    }
    assert_eq!(r.code, 0, "{}", r.stderr);
    Some(out)
}

/// The analytic number of spikes of examples/lif_analytic.nml in `duration_ms`.
///
/// From V_reset = E_L, V relaxes towards E_L + R·I and reaches V_th after
/// tau_m·ln(R·I / (R·I − (V_th − E_L))); the first spike comes after that
/// time, every later one after t_ref more. nmlc stamps a spike at the end of
/// the step in which V crosses V_th, so each simulated interval is the
/// analytic one rounded up to the grid (at most dt longer). Over
/// duration/ISI ≈ 63 intervals the lag stays below 63·dt = 6.3 ms, less
/// than one interval (15.9 ms), so the count may differ by at most one.
fn analytic_spikes(duration_ms: f64) -> f64 {
    let (tau_m, c_m, e_l, v_th, t_ref, i_e): (f64, f64, f64, f64, f64, f64) =
        (10.0, 250.0, -65.0, -50.0, 2.0, 500.0);
    let ri = i_e * tau_m / c_m; // mV (pA · ms / pF)
    let rise = tau_m * (ri / (ri - (v_th - e_l))).ln();
    let isi = t_ref + rise;
    ((duration_ms - rise) / isi).floor() + 1.0
}

fn check_lif_results(out: &Path, backend: &str) {
    for f in ["spikes.csv", "summary.json", "trace_P_V_m.csv"] {
        assert!(out.join(f).is_file(), "{f} is written");
    }
    let s = summary(out);
    for key in [
        "network",
        "backend",
        "dt_ms",
        "duration_ms",
        "seed",
        "populations",
        "timing_s",
    ] {
        assert!(s.get(key).is_some(), "summary.json has `{key}`: {s}");
    }
    for key in ["compile", "build", "simulate"] {
        assert!(s["timing_s"][key].is_number(), "timing_s.{key}");
    }
    assert_eq!(s["network"], "LIFAnalytic");
    assert_eq!(s["backend"], backend);
    let p = &s["populations"]["P"];
    assert_eq!(p["size"], 1);
    let rows = spikes(out);
    assert!(
        rows.windows(2).all(|w| w[0].2 <= w[1].2),
        "spikes.csv is in time order"
    );
    assert_eq!(p["spikes"].as_u64().unwrap(), rows.len() as u64);
    let expected = analytic_spikes(1000.0);
    assert!(
        (rows.len() as f64 - expected).abs() <= 1.0,
        "{} spikes, analytic {expected}",
        rows.len()
    );
    // The first crossing is at 13.863 ms, in the step ending at 13.9 ms.
    assert!(
        (rows[0].2 - 13.9).abs() < 1e-9,
        "first spike at {}",
        rows[0].2
    );
    assert!(p["rate_hz"].as_f64().unwrap() > 60.0);

    let trace = read(&out.join("trace_P_V_m.csv"));
    let mut lines = trace.lines();
    assert_eq!(lines.next(), Some("time_ms,0 [mV]"));
    assert_eq!(
        lines.next(),
        Some("0.0,-65.0"),
        "the initial state at t = 0"
    );
    assert_eq!(
        trace.lines().count(),
        1 + 10001,
        "t = 0 and after each of 10000 steps"
    );
}

#[test]
fn lif_analytic_matches_the_interspike_interval_on_every_backend() {
    for backend in ["interp", "jit"] {
        if let Some(out) = run_lif(backend, &[]) {
            check_lif_results(&out, backend);
        }
    }
}

#[test]
fn command_line_settings_replace_the_files() {
    let out = run_lif(
        "interp",
        &["--dt", "0.05ms", "--duration", "0.5 s", "--seed", "7"],
    )
    .unwrap();
    let s = summary(&out);
    assert_eq!(s["dt_ms"], 0.05);
    assert_eq!(s["duration_ms"], 500.0);
    assert_eq!(s["seed"], 7);
    let n = spikes(&out).len() as f64;
    assert!((n - analytic_spikes(500.0)).abs() <= 1.0, "{n} spikes");
}

#[test]
fn bad_flags_are_usage_errors() {
    let dir = scratch("bad_flags");
    let out = dir.join("out");
    for bad in [
        &["--dt", "5mV"][..],
        &["--dt", "fast"],
        &["--duration", "1000"],
        &["--dt", "0.1 mz"],
        &["--backend", "gpu"],
        &["--format", "xml"],
        &["--network", "NoSuchNetwork"],
        &["--set", "g=4"],
    ] {
        let mut args = vec!["run", "examples/lif_analytic.nml", "-o", text(&out)];
        args.extend_from_slice(bad);
        let r = nmlc(&args);
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(!r.stderr.trim().is_empty(), "{bad:?} says why");
    }
    let r = nmlc(&[
        "run",
        "examples/lif_analytic.nml",
        "-o",
        text(&out),
        "--dt",
        "5mV",
    ]);
    assert!(
        r.stderr.contains("--dt") && r.stderr.contains("time"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_folder_with_files_needs_overwrite() {
    let dir = scratch("overwrite");
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let r = nmlc(&["run", "-q", "examples/lif_analytic.nml", "-o", text(&dir)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--overwrite"), "{}", r.stderr);
    let r = nmlc(&[
        "run",
        "-q",
        "examples/lif_analytic.nml",
        "-o",
        text(&dir),
        "--overwrite",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(read(&dir.join("notes.txt")), "mine");
}

#[test]
fn synapse_models_that_cannot_be_delivered_yet_are_refused() {
    let dir = scratch("projections");
    let model = dir.join("refused.nml");
    std::fs::write(
        &model,
        "import stdlib.neurons.lif
synapse Squared {
    parameters { w: pA = 1 pA }
    output I_syn = w * (pre.V_m / mV) ^ 2
}
network Refused {
    A = LIF(1)
    N = LIF(1)
    connect A -> N { rule = all_to_all  synapse = Squared }
}",
    )
    .expect("write the model");
    let r = nmlc(&["run", text(&model), "-o", text(&dir.join("out"))]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("nml::unsupported"), "{}", r.stderr);
}

#[test]
fn ir_shows_the_solver() {
    let r = nmlc(&["ir", "examples/lif_analytic.nml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("solver exact"), "{}", r.stdout);
    assert!(r.stdout.contains("step:"), "{}", r.stdout);
    let r = nmlc(&["ir", "--format", "json", "examples/lif_analytic.nml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v[0]["population"], "P");
    assert_eq!(v[0]["ir"]["solver"]["kind"], "exact");
}

#[test]
fn ir_asm_shows_each_kernels_machine_code() {
    // COBAHH's rate functions call libm's `exp`; the kernel returns.
    let r = nmlc(&["ir", "--format", "asm", "examples/cobahh.nml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("// P step kernel\n"), "{}", r.stdout);
    assert!(r.stdout.contains("call"), "{}", r.stdout);
    assert!(r.stdout.contains("ret"), "{}", r.stdout);
    // A generator has no kernel: Brunel's only kernel is the neurons'.
    let r = nmlc(&["ir", "--format", "asm", "examples/brunel2000.nml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.matches("step kernel").count(), 1, "{}", r.stdout);
}

#[test]
fn check_explain_names_each_models_solver() {
    let r = nmlc(&["check", "--explain", "examples/lif_analytic.nml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("LIF: solver exact:"), "{}", r.stdout);
}

#[test]
fn npz_holds_the_documented_arrays() {
    let dir = scratch("npz");
    let out = dir.join("out");
    let r = nmlc(&[
        "run",
        "-q",
        "examples/lif_analytic.nml",
        "-o",
        text(&out),
        "--format",
        "npz",
        "--backend",
        "interp",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bytes = std::fs::read(out.join("results.npz")).expect("results.npz");
    assert_eq!(&bytes[..4], b"PK\x03\x04", "a zip archive");
    for name in [
        "P_times_ms.npy",
        "P_neurons.npy",
        "P_V_m.npy",
        "P_V_m_time_ms.npy",
        "P_V_m_neurons.npy",
    ] {
        assert!(
            bytes.windows(name.len()).any(|w| w == name.as_bytes()),
            "{name} in the archive"
        );
    }
    assert!(out.join("summary.json").is_file());
    assert!(!out.join("spikes.csv").exists());
}

const FEATURES: &str = r#"
import stdlib.neurons.lif

network Features {
    parameters { I0: pA = 400 pA }
    duration = 50 ms
    P = LIF(10) {
        I_e = I0 + 20 pA * i
        E_L = normal(-70 mV, 1 mV)
        V_m = uniform(-70 mV, -60 mV)
    }
    S = SpikeSource(3) { times = [0 ms, 10 ms, 10.05 ms, 20 ms, 250 ms]  neurons = [0, 1, 2, 1, 0] }
    record spikes of S
    record spikes of P[5:10]
    record rate of P every 10 ms
    record V_m of P[2:4] every 1 ms
    record V_m of P[7] every 1 ms
}
"#;

/// Runs `model` (written into a scratch folder `name`) quietly with the
/// interpreter; returns what it did and the result folder.
fn run_interp(name: &str, model: &str) -> (common::Run, PathBuf) {
    let (dir, file) = scratch_model(name, model);
    let out = dir.join("out");
    let r = nmlc(&[
        "run",
        "-q",
        text(&file),
        "-o",
        text(&out),
        "--backend",
        "interp",
    ]);
    (r, out)
}

#[test]
fn sources_slices_rates_and_intervals() {
    let (r, out) = run_interp("features", FEATURES);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let rows = spikes(&out);
    let source: Vec<(u32, f64)> = rows
        .iter()
        .filter(|r| r.0 == "S")
        .map(|r| (r.1, r.2))
        .collect();
    // A time on the grid keeps its value, 0 ms goes to the first step, an
    // off-grid time to the end of its step; 250 ms is after the run.
    let expected = [(0, 0.1), (1, 10.0), (2, 10.1), (1, 20.0)];
    assert_eq!(source.len(), expected.len(), "{source:?}");
    for ((j, t), (ej, et)) in source.iter().zip(expected) {
        assert_eq!(*j, ej);
        assert!((t - et).abs() < 1e-9, "{t} vs {et}");
    }
    assert!(
        rows.iter().filter(|r| r.0 == "P").all(|r| r.1 >= 5),
        "only P[5:10] is recorded"
    );

    let rate = read(&out.join("rate_P.csv"));
    let lines: Vec<&str> = rate.lines().collect();
    assert_eq!(lines[0], "time_ms,rate_hz");
    assert_eq!(lines.len(), 1 + 5, "five 10 ms bins in 50 ms");
    assert!(lines[1].starts_with("0.0,"));

    let trace = read(&out.join("trace_P_V_m.csv"));
    assert_eq!(
        trace.lines().next(),
        Some("time_ms,2 [mV],3 [mV],7 [mV]"),
        "merged recorders"
    );
    assert_eq!(trace.lines().count(), 1 + 51, "t = 0 and every 1 ms");

    let s = summary(&out);
    assert_eq!(s["populations"]["S"]["spikes"], 4);
    assert_eq!(s["populations"]["P"]["size"], 10);

    // The same seed gives the same run.
    let (r, again) = run_interp("features-again", FEATURES);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        read(&out.join("spikes.csv")),
        read(&again.join("spikes.csv"))
    );
    assert_eq!(
        read(&out.join("trace_P_V_m.csv")),
        read(&again.join("trace_P_V_m.csv"))
    );
}

#[test]
fn an_interval_off_the_grid_is_a_model_error() {
    let dir = scratch("every");
    let file = dir.join("every.nml");
    std::fs::write(
        &file,
        FEATURES.replace(
            "every 1 ms\n    record V_m of P[7]",
            "every 0.25 ms\n    record V_m of P[7]",
        ),
    )
    .unwrap();
    let r = nmlc(&[
        "run",
        "-q",
        text(&file),
        "-o",
        text(&dir.join("out")),
        "--dt",
        "0.1ms",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("multiple of the time step"),
        "{}",
        r.stderr
    );
}

/// [`run_interp`] of a model that stops on a NaN or infinity; returns its
/// stderr with runs of white space made one space (the report wraps long
/// lines) and the result folder.
fn run_to_fault(name: &str, model: &str) -> (String, PathBuf) {
    let (r, out) = run_interp(name, model);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("nml::non_finite"), "{}", r.stderr);
    assert_eq!(
        summary(&out)["interrupted"],
        true,
        "the results up to the stop are written"
    );
    let flat = r.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    (flat, out)
}

#[test]
fn a_state_that_blows_up_stops_the_run() {
    let (stderr, out) = run_to_fault(
        "blowup",
        r#"
neuron Runaway {
    parameters { tau: ms = 1 ms }
    state { x = 1 }
    equations { x' = x * x / tau }
    solver euler
}
network Blowup {
    duration = 100 ms
    P = Runaway(2)
    record x of P
}
"#,
    );
    for part in [
        "`x` of neuron 0 of population `P` became inf at t = 2.2 ms",
        "equations { x' = x * x / tau }",
        "an explicit solver is chosen here",
        // x(2.1 ms), what the trace recorded last.
        "its last finite value was x = 3.192e206 at t = 2.1 ms",
        "dt = 0.1 ms is probably too large for the explicit solver `euler`",
        "`--dt 0.01ms`",
    ] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
    // The trace ends with the fault; the sample before it is the value
    // found by running again.
    let trace = read(&out.join("trace_P_x.csv"));
    let rows: Vec<&str> = trace.lines().rev().take(2).collect();
    assert!(rows[0].starts_with("2.2,inf"), "{trace}");
    let recorded: f64 = rows[1].split(',').nth(1).unwrap().parse().unwrap();
    assert!(rows[1].starts_with("2.1,"), "{trace}");
    assert_eq!(format!("{recorded:.3e}"), "3.192e206");
}

/// A model that stops on a NaN or infinity, and what the report says.
struct FaultCase {
    name: &'static str,
    model: &'static str,
    says: &'static [&'static str],
    not: &'static str,
}

const FAULTS: &[FaultCase] = &[
    // The midpoint method on x' = -x/tau multiplies x by 1 - h + h²/2 =
    // 1.625 per step (h = dt/tau = 2.5): it grows until it overflows.
    FaultCase {
        name: "unstable",
        model: "
neuron Decay {
    parameters { tau: ms = 1 ms }
    state { x: mV = 1 mV }
    equations { x' = -x / tau }
    solver rk2
}
network D {
    dt = 2.5 ms
    duration = 10 s
    P = Decay(3)
}
",
        says: &[
            "`x` of neuron 0 of population `P` became inf",
            "its last finite value was x = ",
            " mV at t = ",
            "dt = 2.5 ms is probably too large for the explicit solver `rk2`",
        ],
        not: "in one step",
    },
    // x reaches zero between two steps and Euler steps past it: the square
    // root of the negative value is NaN.
    FaultCase {
        name: "sqrt",
        model: "
neuron Root {
    parameters { tau: ms = 1 ms }
    state { x = 1 }
    equations { x' = -sqrt(x) / tau }
    solver euler
}
network S {
    duration = 100 ms
    P = Root(1)
}
",
        says: &[
            "`x` of neuron 0 of population `P` became NaN at t = 1.9 ms",
            "its last finite value was x = -0.000874 at t = 1.8 ms",
            "it went from an ordinary value to NaN in one step",
            "square root of a negative number",
        ],
        not: "too large",
    },
    // x' = x²/tau from x = 1 is 1/(1 - t/tau): infinite at t = 1 ms. The
    // adaptive solver (chosen: the equation is nonlinear) follows it up
    // to the step boundary at 1 ms and gives up in the next step instead
    // of accepting steps of size zero.
    FaultCase {
        name: "finite_time",
        model: "
neuron Runaway {
    parameters { tau: ms = 1 ms }
    state { x = 1 }
    equations { x' = x * x / tau }
}
network R {
    duration = 100 ms
    P = Runaway(1)
}
",
        says: &[
            "`x` of neuron 0 of population `P` became NaN at t = 1.1 ms",
            "its last finite value was x = ",
            "at t = 1 ms",
            "the adaptive solver `rk45` could not finish this step",
            "blows up in finite time",
        ],
        not: "too large",
    },
];

#[test]
fn the_report_of_a_nan_names_the_last_finite_value_and_the_likely_cause() {
    for case in FAULTS {
        let (stderr, _) = run_to_fault(case.name, case.model);
        for part in case.says {
            assert!(stderr.contains(part), "{}: {part}: {stderr}", case.name);
        }
        assert!(!stderr.contains(case.not), "{}: {stderr}", case.name);
    }
}
