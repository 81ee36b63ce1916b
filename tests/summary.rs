//! What `nmlc run` says about a run and checks before it: `summary.json`'s
//! interspike-interval CV, peak memory and reproducibility record; the
//! memory estimate that refuses a run too large for the machine; the
//! `--max-record` limit; and `results.npz` read by numpy against the CSV
//! files of the same run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

struct Run {
    code: i32,
    stderr: String,
    took: Duration,
}

/// Runs `nmlc` with `args` from the repository root.
fn nmlc(args: &[&str]) -> Run {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_nmlc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("nmlc runs");
    let r = Run {
        code: out.status.code().expect("nmlc exits with a code"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    };
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("internal error"),
        "nmlc {args:?} crashed:\n{}",
        r.stderr
    );
    r
}

/// An empty scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("summary")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch folder");
    dir
}

/// A scratch folder for test `name` holding the model `text` as `file`;
/// returns the folder and the model's path.
fn model(name: &str, file: &str, text: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let path = dir.join(file);
    std::fs::write(&path, text).expect("write the model");
    (dir, path)
}

fn text(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

fn summary(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("summary.json is JSON")
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read the file");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Neuron 0 of `S` spikes at 10, 20 and 40 ms (intervals 10 and 20: mean
/// 15, standard deviation 5, CV 1/3), neuron 1 at 5 and 10 ms (CV 0),
/// neuron 2 once (left out): `cv_isi` = (1/3 + 0) / 2 = 1/6. `T` is not
/// recorded and `P` never spikes: `null`.
const ISI: &str = "import common
network Isi {
    dt = 1 ms
    duration = 100 ms
    S = SpikeSource(3) { times = [5 ms, 10 ms, 10 ms, 12 ms, 20 ms, 40 ms]  neurons = [1, 0, 1, 2, 0, 0] }
    T = SpikeSource(1) { times = [1 ms, 2 ms, 9 ms] }
    P = LIF(2)
    connect S -> P { rule = from_file(\"pairs.csv\")  delay = 1 ms  on pre { post.V_m += 0.1 mV } }
    record spikes of S
    record spikes of P
}
";

#[test]
fn summary_has_the_cv_of_intervals_peak_memory_and_how_to_repeat_the_run() {
    let (dir, model) = model("isi", "isi.nml", ISI);
    std::fs::write(dir.join("common.nml"), "import stdlib.neurons.lif\n").unwrap();
    std::fs::write(dir.join("pairs.csv"), "i,j\n0,0\n1,1\n").unwrap();
    let out = dir.join("out");
    let args = ["run", "-q", text(&model), "-o", text(&out), "--seed", "7"];
    let r = nmlc(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = summary(&out);

    let cv = s["populations"]["S"]["cv_isi"].as_f64().expect("a number");
    assert!((cv - 1.0 / 6.0).abs() < 1e-12, "{cv}");
    assert!(s["populations"]["T"]["cv_isi"].is_null(), "not recorded");
    assert!(
        s["populations"]["P"]["cv_isi"].is_null(),
        "no neuron spiked twice"
    );

    if cfg!(target_os = "linux") {
        let peak = s["peak_memory_bytes"].as_u64().expect("VmHWM on Linux");
        assert!(peak > 1 << 20 && peak < 1 << 34, "{peak}");
    }

    let rep = &s["reproducibility"];
    let command_line: Vec<&str> = rep["command_line"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| a.as_str().expect("strings"))
        .collect();
    assert_eq!(command_line[1..], args, "the arguments as given");
    assert_eq!(rep["nmlc_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(rep["model_file"], text(&model));
    assert_eq!(rep["model_sha256"], sha256(&model).as_str());
    let files = rep["files_sha256"].as_object().expect("a map");
    let hash_of = |name: &str| {
        files
            .iter()
            .find(|(path, _)| Path::new(path).file_name() == Some(name.as_ref()))
            .map(|(_, hash)| hash.as_str().expect("hex"))
            .unwrap_or_else(|| panic!("{name} in {files:?}"))
    };
    assert_eq!(hash_of("isi.nml"), sha256(&model));
    assert_eq!(hash_of("common.nml"), sha256(&dir.join("common.nml")));
    assert_eq!(hash_of("pairs.csv"), sha256(&dir.join("pairs.csv")));
    assert_eq!(files.len(), 3, "no standard-library file: {files:?}");
}

#[test]
fn a_clock_like_neuron_has_a_cv_of_zero() {
    let out = scratch("clock").join("out");
    let r = nmlc(&[
        "run",
        "-q",
        "examples/lif_analytic.nml",
        "-o",
        text(&out),
        "--duration",
        "200ms",
        "--backend",
        "interp",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = &summary(&out)["populations"]["P"];
    assert!(p["spikes"].as_u64().unwrap() >= 10, "{p}");
    let cv = p["cv_isi"].as_f64().expect("a number");
    assert!(cv.abs() < 1e-12, "{cv}");
}

/// 4 million neurons connected all to all: 1.6e13 synapses, 64 TB.
const HUGE: &str = "import stdlib.neurons.lif
network Huge {
    duration = 1 ms
    A = LIF(4000000)
    connect A -> A as EE { rule = all_to_all  delay = 1 ms  on pre { post.V_m += 0.1 mV } }
    record V_m of A[0:1000]
}
";

#[cfg(target_os = "linux")]
#[test]
fn a_run_larger_than_the_memory_is_refused_before_it_allocates() {
    let (dir, model) = model("huge", "huge.nml", HUGE);
    let out = dir.join("out");
    let r = nmlc(&["run", text(&model), "-o", text(&out), "--backend", "interp"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("this run needs about") && r.stderr.contains("is available"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("projection EE synapses: 58.2 TiB (16000000000000 synapses × 4 bytes)"),
        "the largest part, named: {}",
        r.stderr
    );
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert!(!out.exists(), "no output folder for a refused run");
    assert!(
        r.took < Duration::from_secs(20),
        "refused at once: {:?}",
        r.took
    );

    // `--force` lets the run past the memory check (the recording limit
    // then stops it, so nothing is allocated here).
    let r = nmlc(&[
        "run",
        text(&model),
        "-o",
        text(&out),
        "--backend",
        "interp",
        "--force",
        "--max-record",
        "1kB",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: this run needs about")
            && r.stderr.contains("running anyway (--force)")
            && r.stderr.contains("more than --max-record"),
        "{}",
        r.stderr
    );
}

const TRACES: &str = "import stdlib.neurons.lif
network Traces {
    dt = 0.1 ms
    duration = 1 s
    P = LIF(1000)
    record V_m of P
    record spikes of P
}
";

#[test]
fn recordings_over_max_record_are_refused_up_front() {
    let (dir, model) = model("max_record", "traces.nml", TRACES);
    let out = dir.join("out");
    // 10,001 samples × (1000 neurons + time) × 8 bytes = 76.4 MiB.
    let r = nmlc(&[
        "run",
        text(&model),
        "-o",
        text(&out),
        "--max-record",
        "10MB",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the recordings would take 76.4 MiB, more than --max-record (9.5 MiB)")
            && r.stderr
                .contains("trace of P.V_m: 76.4 MiB (10001 samples × 1000 neurons × 8 bytes)")
            && r.stderr.contains("record fewer neurons")
            && r.stderr.contains("`every`")
            && r.stderr.contains("--duration"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "refused before the output folder is made");

    let r = nmlc(&[
        "run",
        text(&model),
        "-o",
        text(&out),
        "--max-record",
        "2 parsecs",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("parsecs"), "{}", r.stderr);

    // Within the limit the run goes ahead.
    let r = nmlc(&[
        "run",
        "-q",
        text(&model),
        "-o",
        text(&out),
        "--max-record",
        "100MB",
        "--duration",
        "10ms",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Runs `script` with python3 and numpy; `None` (with the reason printed)
/// where either is missing.
fn python_numpy(script: &str) -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import numpy"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: python3 with numpy is not available (.ci/run installs it)");
        return None;
    }
    let o = Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

const MIXED: &str = "import stdlib.neurons.lif
network Mixed {
    duration = 30 ms
    P = LIF(6) { I_e = 400 pA + 40 pA * i }
    S = SpikeSource(2) { times = [1 ms, 2 ms, 5 ms]  neurons = [0, 1, 0] }
    record spikes of P
    record spikes of S
    record V_m of P[1:4] every 0.5 ms
    record rate of P every 5 ms
}
";

#[test]
fn numpy_reads_the_npz_layout_and_it_matches_the_csv_files() {
    let (dir, model) = model("npz_csv", "mixed.nml", MIXED);
    let (csv, npz) = (dir.join("csv"), dir.join("npz"));
    for (out, format) in [(&csv, "csv"), (&npz, "npz")] {
        let r = nmlc(&[
            "run",
            "-q",
            text(&model),
            "-o",
            text(out),
            "--format",
            format,
            "--backend",
            "interp",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let script = format!(
        r#"
import csv, numpy as np
r = np.load({npz:?})
keys = sorted(r.files)
assert keys == sorted(["P_times_ms", "P_neurons", "S_times_ms", "S_neurons",
    "P_V_m", "P_V_m_time_ms", "P_V_m_neurons", "rate_P_time_ms", "rate_P_hz"]), keys
rows = list(csv.DictReader(open({spikes:?})))
for pop in ["P", "S"]:
    mine = [(float(x["time_ms"]), int(x["neuron"])) for x in rows if x["population"] == pop]
    assert r[pop + "_times_ms"].dtype == np.float64 and r[pop + "_neurons"].dtype == np.uint32
    assert list(zip(r[pop + "_times_ms"].tolist(), r[pop + "_neurons"].tolist())) == mine, pop
assert len(r["P_times_ms"]) > 0
v = r["P_V_m"]
assert v.dtype == np.float64 and v.shape == (61, 3), v.shape
assert r["P_V_m_neurons"].tolist() == [1, 2, 3]
trace = np.loadtxt({trace:?}, delimiter=",", skiprows=1)
assert np.array_equal(trace[:, 0], r["P_V_m_time_ms"])
assert np.array_equal(trace[:, 1:], v)
rate = np.loadtxt({rate:?}, delimiter=",", skiprows=1)
assert np.array_equal(rate[:, 0], r["rate_P_time_ms"]) and np.array_equal(rate[:, 1], r["rate_P_hz"])
print("ok", len(rows))
"#,
        npz = text(&npz.join("results.npz")),
        spikes = text(&csv.join("spikes.csv")),
        trace = text(&csv.join("trace_P_V_m.csv")),
        rate = text(&csv.join("rate_P.csv")),
    );
    if let Some(stdout) = python_numpy(&script) {
        assert!(stdout.starts_with("ok "), "{stdout}");
    }
}
