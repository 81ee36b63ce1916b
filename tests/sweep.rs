//! Integration tests of `--set POP.PARAM=VALUE` and `nmlc sweep`: a
//! population's parameter changes that population only, as the closed-form
//! interspike interval says; wrong names and units are usage errors that
//! name the valid choices; a sweep compiles once, writes one folder per
//! point and `sweep.csv`, and each point's spikes are those of `nmlc run`
//! with the same values, bit for bit.

mod common;

use common::{nmlc, read, scratch, text};
use std::path::{Path, PathBuf};

/// `populations.<name>.rate_hz` of a run's `summary.json`.
fn rate(dir: &Path, population: &str) -> f64 {
    let s: serde_json::Value =
        serde_json::from_str(&read(&dir.join("summary.json"))).expect("summary.json is JSON");
    s["populations"][population]["rate_hz"]
        .as_f64()
        .expect("a rate")
}

/// Two identical LIF neurons with the model's defaults (E_L = V_reset =
/// −70 mV, V_th = −55 mV, tau_m = 10 ms, C_m = 250 pF, t_ref = 2 ms) under
/// a constant current, in populations `P` and `Q`.
const TWIN_LIF: &str = "
import stdlib.neurons.lif

network Twins {
    parameters { I: pA = 500 pA }
    dt = 0.1 ms
    duration = 200 ms
    P = LIF(1) { I_e = I }
    Q = LIF(1) { I_e = I }
    record spikes of P
    record spikes of Q
}
";

/// A small Brunel-type network: 40 excitatory and 10 inhibitory LIF neurons
/// with delta synapses, relative inhibition `g`, driven by Poisson sources
/// at `eta` times the threshold rate (`nu_ext` follows `eta`).
const MINI_BRUNEL: &str = "
import stdlib.neurons.lif
import stdlib.sources.poisson

network MiniBrunel {
    parameters {
        g = 5
        eta = 2
        J: mV = 0.5 mV
        nu_thr: Hz = 50 Hz
        N = 50
    }
    nu_ext = eta * nu_thr
    dt = 0.1 ms
    duration = 60 ms
    seed = 7

    P = LIF(N) {
        E_L = 0 mV
        V_th = 20 mV
        V_reset = 10 mV
        tau_m = 20 ms
        t_ref = 2 ms
    }
    E = P[0:40]
    I = P[40:50]
    Ext = PoissonSource(400) { rate = nu_ext }

    connect E -> P as exc {
        rule = fixed_indegree(10, autapses = false)
        delay = 1.5 ms
        on pre { post.V_m += J }
    }
    connect I -> P as inh {
        rule = fixed_indegree(3, autapses = false)
        delay = 1.5 ms
        on pre { post.V_m += -g * J }
    }
    connect Ext -> P as ext {
        rule = fixed_indegree(40)
        delay = 1.5 ms
        on pre { post.V_m += J }
    }

    record spikes of P
}
";

/// Writes `source` as `dir/name` and returns its path.
fn model(dir: &Path, name: &str, source: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, source).expect("write the model");
    path
}

/// Spikes of one LIF neuron in `duration_ms` under a current that alone
/// would hold it at `v_inf` (mV): from `V_reset` it reaches `V_th` after
/// `tau_m · ln((v_inf − V_reset) / (v_inf − V_th))`, then rests `t_ref`.
/// The first spike is stamped at the end of its step, so allow one spike
/// either way.
fn lif_spikes(tau_m: f64, v_inf: f64, v_th: f64, duration_ms: f64) -> f64 {
    let (v_reset, t_ref) = (-70.0, 2.0);
    let rise = tau_m * ((v_inf - v_reset) / (v_inf - v_th)).ln();
    ((duration_ms - rise) / (rise + t_ref)).floor() + 1.0
}

#[test]
fn a_population_parameter_changes_that_population_only() {
    let dir = scratch("population_parameter");
    let file = model(&dir, "twins.nml", TWIN_LIF);
    // V_inf = E_L + I_e · tau_m / C_m.
    for (set, tau_m, v_th) in [
        (None, 10.0, -55.0),
        (Some("P.V_th=-60mV"), 10.0, -60.0),
        (Some("P.tau_m=15ms"), 15.0, -55.0),
        (Some("P.tau_m=0.015 s"), 15.0, -55.0),
    ] {
        let out = dir.join(format!("out_{}", set.unwrap_or("none").replace(' ', "")));
        let mut args = vec!["run", "-q", text(&file), "-o", text(&out)];
        if let Some(set) = set {
            args.extend(["--set", set]);
        }
        let r = nmlc(&args);
        assert_eq!(r.code, 0, "{set:?}: {}", r.stderr);
        let expected = lif_spikes(tau_m, -70.0 + 500.0 * tau_m / 250.0, v_th, 200.0);
        let p = rate(&out, "P") * 0.2;
        assert!(
            (p - expected).abs() <= 1.0,
            "{set:?}: {p} spikes, expected {expected}"
        );
        let q = rate(&out, "Q") * 0.2;
        let untouched = lif_spikes(10.0, -50.0, -55.0, 200.0);
        assert!((q - untouched).abs() <= 1.0, "{set:?}: Q fired {q} times");
    }
}

#[test]
fn wrong_names_and_units_are_usage_errors_that_name_the_choices() {
    let dir = scratch("wrong_settings");
    let file = model(&dir, "twins.nml", TWIN_LIF);
    for (set, says) in [
        (
            "P.tau=15ms",
            &["no parameter `tau`", "`tau_m`", "`V_th`"][..],
        ),
        ("R.tau_m=15ms", &["no population `R`", "`P`, `Q`"]),
        (
            "P.tau_m=15mV",
            &["`P.tau_m` is a time", "`--set P.tau_m=10ms`"],
        ),
        ("P.tau_m=15", &["dimensionless"]),
        (
            "J=1",
            &["no network parameter `J`", "`I`", "POPULATION.PARAMETER"],
        ),
        ("I=5mV", &["`I` is a current", "`--set I=500pA`"]),
    ] {
        for command in ["run", "sweep"] {
            let out = dir.join("out");
            let r = nmlc(&[command, text(&file), "-o", text(&out), "--set", set]);
            assert_eq!(r.code, 2, "{command} --set {set}: {}", r.stderr);
            for s in says {
                assert!(r.stderr.contains(s), "{command} --set {set}: {}", r.stderr);
            }
        }
    }
    let r = nmlc(&["run", text(&file), "--set", "I=400pA,500pA"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nmlc sweep"), "{}", r.stderr);
}

/// The rows of `sweep.csv` as `(header → field)` maps, after splitting
/// the quoted `run` field.
fn sweep_rows(dir: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let table = read(&dir.join("sweep.csv"));
    let mut lines = table.lines();
    let header: Vec<String> = lines
        .next()
        .expect("a header")
        .split(',')
        .map(String::from)
        .collect();
    lines
        .map(|line| {
            // `run` is the only quoted field of a row that did not fail.
            let (before, rest) = line.split_once('"').expect("a quoted run");
            let (run, after) = rest.split_once('"').expect("a closing quote");
            let mut fields: Vec<String> = before.split(',').map(String::from).collect();
            fields.pop();
            fields.push(run.to_string());
            fields.extend(after.split(',').skip(1).map(String::from));
            assert_eq!(fields.len(), header.len(), "{line}");
            header.iter().cloned().zip(fields).collect()
        })
        .collect()
}

#[test]
fn a_sweep_compiles_once_and_each_point_matches_a_separate_run() {
    let dir = scratch("grid");
    let file = model(&dir, "mini.nml", MINI_BRUNEL);
    let out = dir.join("out");
    let r = nmlc(&[
        "sweep",
        text(&file),
        "-o",
        text(&out),
        "--set",
        "g=4,6",
        "--set",
        "eta=1,2",
        "--set",
        "P.tau_m=20ms",
        "--set",
        "P.V_th=20mV,18mV",
        "--threads",
        "1",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let compiles: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("nmlc: compile"))
        .collect();
    assert_eq!(compiles.len(), 1, "{}", r.stderr);
    assert!(compiles[0].contains("once for 8 run(s)"), "{}", r.stderr);

    let rows = sweep_rows(&out);
    let names: Vec<&str> = rows.iter().map(|row| row["run"].as_str()).collect();
    assert_eq!(
        names,
        [
            "g=4,eta=1,P.V_th=20mV",
            "g=4,eta=1,P.V_th=18mV",
            "g=4,eta=2,P.V_th=20mV",
            "g=4,eta=2,P.V_th=18mV",
            "g=6,eta=1,P.V_th=20mV",
            "g=6,eta=1,P.V_th=18mV",
            "g=6,eta=2,P.V_th=20mV",
            "g=6,eta=2,P.V_th=18mV",
        ],
        "the last parameter changes fastest; one value is not swept"
    );
    assert!(!rows[0].contains_key("P.tau_m"));
    // Checked against separate runs: the corners and one inner point.
    for k in [0, 3, 5, 7] {
        let row = &rows[k];
        assert_eq!(row["status"], "ok");
        let run_dir = out.join(&row["run"]);
        for p in ["P", "Ext"] {
            let listed: f64 = row[&format!("rate_{p}_hz")].parse().unwrap();
            assert_eq!(listed, rate(&run_dir, p), "{} {p}", row["run"]);
        }
        let single = dir.join(format!("single_{k}"));
        let mut args = vec![
            "run",
            "-q",
            text(&file),
            "-o",
            text(&single),
            "--threads",
            "1",
        ];
        let sets = [
            format!("g={}", row["g"]),
            format!("eta={}", row["eta"]),
            "P.tau_m=20ms".to_string(),
            format!("P.V_th={}mV", row["P.V_th"]),
        ];
        for s in &sets {
            args.extend(["--set", s.as_str()]);
        }
        let r = nmlc(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let spikes = read(&single.join("spikes.csv"));
        assert!(spikes.lines().count() > 1, "{} fired", row["run"]);
        assert_eq!(
            read(&run_dir.join("spikes.csv")),
            spikes,
            "{}: the sweep's spikes are those of nmlc run",
            row["run"]
        );
    }
    // More drive, a lower threshold: more spikes; Ext follows eta only.
    let p = |k: usize| rows[k]["rate_P_hz"].parse::<f64>().unwrap();
    assert!(p(2) > p(0) && p(1) > p(0), "{rows:?}");
    assert_eq!(rows[0]["rate_Ext_hz"], rows[4]["rate_Ext_hz"]);
    assert_ne!(rows[0]["rate_Ext_hz"], rows[2]["rate_Ext_hz"]);

    // The folder now holds files: refused without --overwrite.
    let again = [
        "sweep",
        "-q",
        text(&file),
        "-o",
        text(&out),
        "--set",
        "g=4,5",
    ];
    let r = nmlc(&again);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--overwrite"), "{}", r.stderr);
    let r = nmlc(&[&again[..], &["--overwrite", "--duration", "5ms"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sweep_rows(&out).len(), 2);
}

#[test]
fn what_sets_the_size_of_a_population_cannot_be_swept() {
    let dir = scratch("size");
    let file = model(&dir, "mini.nml", MINI_BRUNEL);
    let out = dir.join("out");
    let r = nmlc(&["sweep", text(&file), "-o", text(&out), "--set", "N=40,50"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("the size of population `P`") && r.stderr.contains("nmlc run"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_point_that_fails_is_recorded_and_the_others_run() {
    let dir = scratch("failure");
    let file = model(
        &dir,
        "grow.nml",
        "
neuron Grow {
    parameters { tau: ms = 10 ms }
    state { x = 1 }
    equations { x' = x / tau }
}

network G {
    duration = 20 ms
    P = Grow(1)
}
",
    );
    let out = dir.join("out");
    let r = nmlc(&[
        "sweep",
        "-q",
        text(&file),
        "-o",
        text(&out),
        "--set",
        "P.tau=10ms,1us,20ms",
    ]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("1 of 3 run(s) failed"), "{}", r.stderr);
    let table = read(&out.join("sweep.csv"));
    let status: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap())
        .collect();
    assert_eq!(status, ["ok", "failed", "ok"], "{table}");
    assert!(table.contains("became inf"), "{table}");
    // Found by running the point again: x grows by e^100 per step.
    assert!(table.contains("its last finite value was x = "), "{table}");
    assert!(
        table.contains("grew without bound under the solver `exact`"),
        "{table}"
    );
    assert!(out.join("P.tau=20ms").join("summary.json").is_file());
    assert!(out.join("P.tau=1us").join("summary.json").is_file());
}
