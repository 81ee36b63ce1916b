//! `nmlc sweep FILE --set NAME=V1,V2,… …`: the network is compiled once,
//! then run for every point of the grid of values, each run into its own
//! folder, with one row per run in `sweep.csv` (see
//! [`nmlc_runtime::network::Sweep`]).

use crate::commands::{
    describe_compiled, load_timed, look_back, open_output, options_but_set, parse_set,
    report_run_error, sayer, write_plot,
};
use crate::plot::ImageFormats;
use crate::progress::Monitor;
use crate::{ResultFormat, RunArgs};
use nmlc_runtime::network::{OutputFormat, PointResult, RunError, SWEEP_CSV, Sweep, SweepAxis};
use nmlc_runtime::output::OutputDir;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// `nmlc sweep FILE …`: exit code 3 if any run failed (the others still
/// ran and are in `sweep.csv`), 130 if a signal stopped a run (no later
/// run is started). `--max-record` and the memory estimate are checked
/// once, before the first run; `--plot` draws each run.
pub fn sweep(args: &RunArgs) -> ExitCode {
    let parsed = options_but_set(args).and_then(|options| {
        let axes = args
            .set
            .iter()
            .map(|item| parse_set(item).map(|(name, values)| SweepAxis { name, values }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((options, axes))
    });
    let (options, axes) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("nmlc: {message}");
            return ExitCode::from(2);
        }
    };
    let say = sayer(args.quiet);
    let Some((c, check_s)) = load_timed(&args.file, &say) else {
        return ExitCode::from(1);
    };

    let started = Instant::now();
    let mut sweep = match Sweep::compile(&c.program, &options, axes) {
        Ok(sweep) => sweep,
        Err(e) => return report_run_error(&c, &e),
    };
    let compile_s = started.elapsed().as_secs_f64();
    let runs = sweep.len();
    let (network_line, population_lines) = describe_compiled(sweep.compiled());
    say(format!(
        "compile {compile_s:.3} s, once for {runs} run(s): {network_line}"
    ));
    population_lines.into_iter().for_each(&say);
    // Every point has the sizes and recorders of the first, so one check
    // serves them all.
    if let Err(code) = crate::preflight::check(&c, sweep.compiled(), args) {
        return code;
    }

    let path = args.output.clone().unwrap_or_else(|| {
        Path::new("nmlc-out").join(format!("{}-sweep", sweep.compiled().network.name))
    });
    let dir = match open_output(&path, args.overwrite) {
        Ok(dir) => dir,
        Err(code) => return code,
    };
    let format = match args.format {
        ResultFormat::Csv => OutputFormat::Csv,
        ResultFormat::Npz => OutputFormat::Npz,
    };
    let reproducibility = crate::reproducibility::of_run(&c, sweep.compiled().network, &args.file);
    let mut results: Vec<PointResult> = Vec::with_capacity(runs);
    let mut plot_failure = None;
    crate::interrupt::install();
    for point in 0..runs {
        let name = sweep.folder_name(point);
        let progress = format!("[{}/{runs}] {name}", point + 1);
        let mut monitor = Monitor::new(args.progress, args.quiet, format!("{progress}: "));
        let mut result = match OutputDir::create(dir.path().join(&name), args.overwrite) {
            Ok(run_dir) => sweep.run_point(
                point,
                &run_dir,
                format,
                check_s + compile_s,
                &reproducibility,
                &mut |p| monitor.observe(p),
            ),
            Err(e) => PointResult {
                point,
                summary: None,
                files: Vec::new(),
                error: Some(RunError::Output(e)),
            },
        };
        monitor.finish();
        if let (Some(e), Some(summary)) = (&mut result.error, &result.summary) {
            look_back(e, sweep.compiled(), summary.timing_s.simulate, &say);
        }
        let interrupted =
            result.error.is_none() && result.summary.as_ref().is_some_and(|s| s.interrupted);
        match (&result.error, &result.summary) {
            (None, Some(summary)) => say(format!(
                "{progress}: build {:.3} s, simulate {:.3} s{}, {}",
                summary.timing_s.build,
                summary.timing_s.simulate,
                if interrupted { " (interrupted)" } else { "" },
                sweep
                    .compiled()
                    .populations
                    .iter()
                    .filter_map(|p| summary.populations.get(&p.name).map(|s| (&p.name, s)))
                    .map(|(p, s)| format!("{p} {:.3} Hz", s.rate_hz))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            (Some(e), _) => {
                eprintln!("nmlc: {progress}: failed");
                report_run_error(&c, e);
            }
            (None, None) => {}
        }
        if args.plot && result.summary.is_some() {
            let run_dir = dir.path().join(&name);
            let drawn = write_plot(&run_dir, None, ImageFormats::BOTH, args.quiet);
            plot_failure = plot_failure.or(drawn.err());
        }
        results.push(result);
        // Rewritten after every run, so an interrupted sweep keeps its table.
        if let Err(e) = sweep.write_table(&dir, &results) {
            return report_run_error(&c, &e);
        }
        if interrupted || crate::interrupt::requested() {
            eprintln!(
                "nmlc: interrupted during run {progress}; {} has the {} run(s) done so far",
                dir.path().join(SWEEP_CSV).display(),
                results.len()
            );
            return ExitCode::from(crate::interrupt::EXIT_INTERRUPTED);
        }
    }
    say(format!(
        "wrote {runs} run(s) and {SWEEP_CSV} to {}",
        dir.path().display()
    ));
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    if failed > 0 {
        eprintln!(
            "nmlc: {failed} of {runs} run(s) failed; see the status column of {}",
            dir.path().join(SWEEP_CSV).display()
        );
        return ExitCode::from(3);
    }
    plot_failure.map_or(ExitCode::SUCCESS, ExitCode::from)
}
