//! Integration tests of `nmlc plot` and `nmlc run --plot`: a small network is
//! run through the binary, drawn, and the images are checked for what a
//! reader needs (a PNG of the right size with content, an SVG naming the
//! populations and the units), and every user mistake is a message with an
//! exit code, never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: i32,
    stderr: String,
}

/// Runs `nmlc` with `args` from the repository root.
fn nmlc(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_nmlc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("nmlc runs");
    let r = Run {
        code: out.status.code().expect("nmlc exits with a code"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("internal error"),
        "nmlc {args:?} crashed:\n{}",
        r.stderr
    );
    r
}

/// An empty scratch folder for one test (what a previous run left is removed).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plot")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch folder");
    dir
}

fn text(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

/// Two populations driven above threshold by different currents, and the
/// membrane potential of three neurons: 200 ms, a fraction of a second to run.
const NETWORK: &str = r#"
import stdlib.neurons.lif

network PlotDemo {
    dt = 0.1 ms
    duration = 200 ms
    seed = 3

    Exc = LIF(40) {
        I_e = 400 pA + 300 pA * i / N
        V_m = uniform(-70 mV, -55 mV)
    }
    Inh = LIF(10) { I_e = 600 pA }

    record spikes of Exc
    record spikes of Inh
    record V_m of Exc[0:3]
}
"#;

/// Runs [`NETWORK`] into `<scratch>/out` with `extra` flags; returns the folder.
fn run_network(name: &str, extra: &[&str]) -> (PathBuf, Run) {
    let dir = scratch(name);
    let file = dir.join("demo.nml");
    std::fs::write(&file, NETWORK).expect("write the model");
    let out = dir.join("out");
    let mut args = vec!["run", "-q", text(&file), "-o", text(&out)];
    args.extend_from_slice(extra);
    let r = nmlc(&args);
    (out, r)
}

/// Width and height from a PNG's signature and IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "too short for a PNG");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "the first chunk is IHDR");
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

/// Checks that `path` is a sensible, non-blank PNG figure; returns its height.
fn check_png(path: &Path) -> u32 {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (width, height) = png_size(&bytes);
    assert_eq!(width, 1200);
    assert!((600..=10_000).contains(&height), "height {height}");
    assert!(bytes.len() > 20_000, "only {} bytes", bytes.len());
    let image = image::load_from_memory(&bytes)
        .expect("the PNG decodes")
        .to_rgb8();
    let mut colours: Vec<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 10,
        "only {} distinct colours: a blank image?",
        colours.len()
    );
    // Spikes of the first population are drawn in its colour (Tableau blue).
    assert!(
        image.pixels().any(|p| p.0 == [31, 119, 180]),
        "no spike drawn"
    );
    height
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Names of the files in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_csv_run_is_drawn_as_png_and_svg() {
    let (out, r) = run_network("csv", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = nmlc(&["plot", text(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("plot.png") && r.stderr.contains("plot.svg"));
    // Title, raster, rate, and one trace panel.
    let height = check_png(&out.join("plot.png"));
    assert_eq!(height, 40 + 420 + 200 + 200);
    let svg = read(&out.join("plot.svg"));
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    for label in [
        "PlotDemo",
        "Exc (",
        "Inh (",
        "time (ms)",
        "rate (Hz)",
        "V_m (mV)",
        "Exc.V_m",
        "neuron 2",
    ] {
        assert!(svg.contains(label), "the SVG lacks `{label}`");
    }
    // Written atomically: no temporary file is left beside the results.
    assert!(
        files(&out).iter().all(|n| !n.starts_with('.')),
        "{:?}",
        files(&out)
    );
}

#[test]
fn format_and_file_stem_choose_what_is_written() {
    let (out, r) = run_network("stem", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = nmlc(&["plot", "-q", text(&out), "--format", "png", "-o", "raster"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    check_png(&out.join("raster.png"));
    assert!(!out.join("raster.svg").exists());
    assert!(!out.join("plot.png").exists());

    let elsewhere = out.parent().unwrap().join("figures/run");
    let r = nmlc(&[
        "plot",
        text(&out),
        "--format",
        "svg",
        "-o",
        text(&elsewhere),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(read(&elsewhere.with_extension("svg")).starts_with("<svg"));
}

#[test]
fn run_with_plot_draws_npz_results() {
    let (out, r) = run_network("npz", &["--format", "npz", "--plot"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(out.join("results.npz").is_file());
    check_png(&out.join("plot.png"));
    let svg = read(&out.join("plot.svg"));
    for label in ["Exc (", "Inh (", "Exc.V_m", "rate (Hz)"] {
        assert!(svg.contains(label), "the SVG lacks `{label}`");
    }
    // The archive keeps no units: the axis is named by the variable alone.
    assert!(svg.contains("\nV_m\n") && !svg.contains("V_m (mV)"));
}

#[test]
fn the_npz_and_csv_figures_are_the_same_but_for_units() {
    let (csv, r) = run_network("same_csv", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (npz, r) = run_network("same_npz", &["--format", "npz"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for dir in [&csv, &npz] {
        let r = nmlc(&["plot", "-q", text(dir), "--format", "svg"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let csv = read(&csv.join("plot.svg")).replace("V_m (mV)", "V_m");
    let npz = read(&npz.join("plot.svg"));
    assert_eq!(csv.lines().count(), npz.lines().count());
    assert!(csv == npz, "the figures differ beyond the unit");
}

#[test]
fn a_run_stopped_by_a_blow_up_is_still_drawn() {
    let dir = scratch("blowup");
    let file = dir.join("blowup.nml");
    std::fs::write(
        &file,
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
    )
    .unwrap();
    let out = dir.join("out");
    let r = nmlc(&[
        "run",
        "-q",
        text(&file),
        "-o",
        text(&out),
        "--backend",
        "interp",
        "--plot",
    ]);
    assert_eq!(r.code, 1, "the run's own error decides: {}", r.stderr);
    assert!(r.stderr.contains("became"), "{}", r.stderr);
    let png = std::fs::read(out.join("plot.png")).expect("the plot is written");
    assert_eq!(png_size(&png).0, 1200);
    let svg = read(&out.join("plot.svg"));
    for label in ["stopped early", "no spikes recorded", "P.x"] {
        assert!(svg.contains(label), "the SVG lacks `{label}`");
    }
}

#[test]
fn folders_without_results_are_usage_errors() {
    let missing = scratch("missing").join("nothing-here");
    let r = nmlc(&["plot", text(&missing)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no result folder"), "{}", r.stderr);
    assert!(r.stderr.contains("nmlc run"), "a hint: {}", r.stderr);

    let empty = scratch("empty");
    let r = nmlc(&["plot", text(&empty)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("holds no results"), "{}", r.stderr);
    assert!(files(&empty).is_empty(), "nothing is written");

    let file = empty.join("notes.txt");
    std::fs::write(&file, "x").unwrap();
    let r = nmlc(&["plot", text(&file)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a result folder"), "{}", r.stderr);

    let r = nmlc(&["plot", text(&empty), "--format", "gif"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn damaged_result_files_are_reported_with_their_line() {
    let dir = scratch("damaged");
    std::fs::write(
        dir.join("spikes.csv"),
        "population,neuron,time_ms\nP,0,1.5\nP,zero,2.0\n",
    )
    .unwrap();
    let r = nmlc(&["plot", text(&dir)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("spikes.csv:3"), "{}", r.stderr);
    assert!(r.stderr.contains("`zero`"), "{}", r.stderr);

    let dir = scratch("damaged_npz");
    std::fs::write(dir.join("results.npz"), b"PK\x03\x04 truncated").unwrap();
    let r = nmlc(&["plot", text(&dir)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("results.npz"), "{}", r.stderr);
}

#[test]
fn an_empty_spike_table_gives_empty_panels() {
    let dir = scratch("no_spikes");
    std::fs::write(dir.join("spikes.csv"), "population,neuron,time_ms\n").unwrap();
    let r = nmlc(&["plot", text(&dir), "--format", "svg"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let svg = read(&dir.join("plot.svg"));
    assert!(svg.contains("no spikes recorded"));
    assert!(svg.contains("no summary.json"));
}
