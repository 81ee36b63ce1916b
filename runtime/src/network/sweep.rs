//! Parameter sweeps (`nmlc sweep`): one compilation, one run per point of
//! a grid of parameter values.
//!
//! [`Sweep::compile`] does the work of `nmlc run`'s compile phase once: the
//! network is lowered and its step kernels are compiled with every swept
//! value kept out of the code (see [`super::settings`]): a swept model
//! parameter (`E.tau_m`) is a per-neuron column; a swept network parameter
//! (`g`) and the parameters whose defaults read it are evaluated when the
//! network is built. [`Sweep::run_point`] then sets one point's values in
//! the compiled network's data, builds the network and runs it with the
//! same kernels. A point's results are those of `nmlc run` with the same
//! values, bit for bit: per-neuron columns hold the numbers a constant
//! would have been folded to, computed with the same arithmetic.
//!
//! The grid is the cartesian product of the axes in the order given, the
//! last axis changing fastest (`g=4,5 eta=1,2` runs g=4 eta=1, g=4 eta=2,
//! g=5 eta=1, g=5 eta=2). A parameter given one value is fixed for every
//! run and compiled in as a constant, like `nmlc run --set`.
//!
//! Each point runs in its own folder, named `NAME=VALUE` for each swept
//! parameter joined by commas (`g=4,eta=1`; `run` if none has several
//! values), VALUE as given on the command line
//! without spaces, and any character other than ASCII letters, digits,
//! `.`, `_`, `+` and `-` replaced by `_` (`1µs` → `1_s`). `sweep.csv`
//! ([`Sweep::table`]) has one row per point.

use std::path::PathBuf;
use std::time::Instant;

use nmlc_compiler::model::{ExprKind, PopulationKind, Program};
use nmlc_compiler::units::Dim;

use super::compile::{
    CompiledKind, CompiledNetwork, ParamPlan, RunOptions, compile_ir_with, compile_kernels,
    select_network,
};
use super::error::RunError;
use super::settings::{SetTarget, Swept, network_parameters, resolve_setting};
use super::simulation::{Progress, Simulation};
use super::write::OutputFormat;
use crate::output::{OutputDir, Reproducibility, RunSummary, TimingSummary};

/// The name of the table of a sweep's runs.
pub const SWEEP_CSV: &str = "sweep.csv";

/// One value of a swept parameter.
#[derive(Clone, Debug)]
pub struct SweepValue {
    /// The value in the internal scale.
    pub value: f64,
    /// Its dimension.
    pub dim: Dim,
    /// As given on the command line (`15ms`), for the run's folder name.
    pub label: String,
}

/// A swept parameter: `--set NAME=V1,V2,…`.
#[derive(Clone, Debug)]
pub struct SweepAxis {
    /// `g` (a network parameter) or `E.tau_m` (a population's parameter).
    pub name: String,
    /// Its values, in the order given.
    pub values: Vec<SweepValue>,
}

/// A network compiled once for every point of a grid of parameter values.
pub struct Sweep<'p> {
    compiled: CompiledNetwork<'p>,
    axes: Vec<SweepAxis>,
    /// What each axis sets.
    targets: Vec<SetTarget>,
    /// Values fixed for every run (`RunOptions::set`).
    fixed: Vec<(String, f64, Dim)>,
}

/// What one point of the grid gave.
#[derive(Debug)]
pub struct PointResult {
    /// The point's index in the grid.
    pub point: usize,
    /// What the run did (also for a run stopped by a NaN); `None` if the
    /// network could not be built.
    pub summary: Option<RunSummary>,
    /// The files written.
    pub files: Vec<PathBuf>,
    /// Why the point failed, if it did.
    pub error: Option<RunError>,
}

impl<'p> Sweep<'p> {
    /// Checks the axes and compiles the network once: lowering, IR and
    /// step kernels. `options.set` holds values fixed for every run.
    pub fn compile(
        program: &'p Program,
        options: &RunOptions,
        axes: Vec<SweepAxis>,
    ) -> Result<Sweep<'p>, RunError> {
        let network = select_network(program, options.network.as_deref())?;
        let mut targets = Vec::with_capacity(axes.len());
        for (a, axis) in axes.iter().enumerate() {
            let bad = |problem: String| RunError::BadSetting {
                setting: format!("--set {}", axis.name),
                problem,
            };
            let given_before = axes[..a].iter().any(|b| b.name == axis.name)
                || options.set.iter().any(|(n, _, _)| *n == axis.name);
            if given_before {
                return Err(bad(
                    "is given twice; list every value in one `--set NAME=V1,V2,…`".into(),
                ));
            }
            let mut target = None;
            for v in &axis.values {
                target = Some(resolve_setting(program, network, &axis.name, v.dim)?);
            }
            let Some(target) = target else {
                return Err(bad("has no values".into()));
            };
            targets.push(target);
            let labels: Vec<String> = axis.values.iter().map(|v| folder_label(&v.label)).collect();
            if let Some(twice) = labels
                .iter()
                .enumerate()
                .find(|(i, l)| labels[..*i].contains(l))
            {
                return Err(bad(format!(
                    "the value `{}` is listed twice (runs are named after their values)",
                    twice.1
                )));
            }
        }
        // A parameter with one value is fixed, as with `nmlc run --set`.
        let mut fixed = options.set.clone();
        let mut swept_axes = Vec::new();
        let mut swept_targets = Vec::new();
        for (axis, target) in axes.into_iter().zip(targets) {
            match axis.values.as_slice() {
                [only] => fixed.push((axis.name, only.value, only.dim)),
                _ => {
                    swept_targets.push((axis.name.clone(), target));
                    swept_axes.push(axis);
                }
            }
        }
        let fixed_names: Vec<String> = fixed.iter().map(|(n, _, _)| n.clone()).collect();
        let swept = Swept::new(network, &swept_targets, &fixed_names);
        // Compiled with the first point's values; what differs between
        // points never reaches the code.
        let mut first = options.clone();
        first.set.clone_from(&fixed);
        first.set.extend(
            swept_axes
                .iter()
                .map(|a| (a.name.clone(), a.values[0].value, a.values[0].dim)),
        );
        let mut compiled = compile_ir_with(program, &first, &swept)?;
        compile_kernels(&mut compiled, options.backend)?;
        Ok(Sweep {
            compiled,
            axes: swept_axes,
            targets: swept_targets.into_iter().map(|(_, t)| t).collect(),
            fixed,
        })
    }

    /// The compiled network (with the values of the last point set).
    pub fn compiled(&self) -> &CompiledNetwork<'p> {
        &self.compiled
    }

    /// The swept parameters (those given several values).
    pub fn axes(&self) -> &[SweepAxis] {
        &self.axes
    }

    /// The number of points of the grid.
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// Whether the grid is empty (never: every axis has a value).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index of each axis's value at `point`; the last axis changes
    /// fastest.
    pub fn indices(&self, point: usize) -> Vec<usize> {
        let mut rest = point;
        let mut out = vec![0; self.axes.len()];
        for (a, axis) in self.axes.iter().enumerate().rev() {
            out[a] = rest % axis.values.len();
            rest /= axis.values.len();
        }
        out
    }

    /// The folder name of `point`: `g=4,eta=1` (`run` without axes).
    pub fn folder_name(&self, point: usize) -> String {
        if self.axes.is_empty() {
            return "run".into();
        }
        self.axes
            .iter()
            .zip(self.indices(point))
            .map(|(axis, i)| format!("{}={}", axis.name, folder_label(&axis.values[i].label)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Sets the values of `point` in the compiled network's data: network
    /// parameters (and those whose defaults read them) are evaluated
    /// again, swept model parameters get their per-neuron value. The code
    /// is not touched.
    pub fn set_point(&mut self, point: usize) -> Result<&CompiledNetwork<'p>, RunError> {
        let indices = self.indices(point);
        let mut set = self.fixed.clone();
        for (axis, &i) in self.axes.iter().zip(&indices) {
            let v = &axis.values[i];
            set.push((axis.name.clone(), v.value, v.dim));
        }
        self.compiled.network_params = network_parameters(self.compiled.network, &set)?;
        for ((axis, target), &i) in self.axes.iter().zip(&self.targets).zip(&indices) {
            if let SetTarget::Population { population, param } = *target
                && let CompiledKind::Neuron { params, .. } =
                    &mut self.compiled.populations[population].kind
                && let ParamPlan::PerNeuron(e) = &mut params[param as usize]
            {
                e.kind = ExprKind::Const(axis.values[i].value);
            }
        }
        Ok(&self.compiled)
    }

    /// Builds and runs the network with the values of `point` and writes
    /// its results into `dir`. `compile_s`, the time of the one
    /// compilation, and `reproducibility` go into every run's
    /// `summary.json`. `observe` watches the run as in
    /// [`Simulation::run_observed`] (and may stop it). A failure (a
    /// value that cannot be built, a NaN) is returned in the result; what
    /// was recorded until a NaN or a stop is written, as `nmlc run` does.
    /// After a NaN, the compiled network ([`Sweep::compiled`]) still holds
    /// the point's values, for [`RunError::look_back`].
    pub fn run_point(
        &mut self,
        point: usize,
        dir: &OutputDir,
        format: OutputFormat,
        compile_s: f64,
        reproducibility: &Reproducibility,
        observe: &mut dyn FnMut(&Progress) -> bool,
    ) -> PointResult {
        let failed = |error| PointResult {
            point,
            summary: None,
            files: Vec::new(),
            error: Some(error),
        };
        let compiled = match self.set_point(point) {
            Ok(c) => c,
            Err(e) => return failed(e),
        };
        let started = Instant::now();
        let mut sim = match Simulation::build(compiled) {
            Ok(sim) => sim,
            Err(e) => return failed(e),
        };
        let build = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let outcome = sim.run_observed(observe);
        let timing = TimingSummary {
            compile: compile_s,
            build,
            simulate: started.elapsed().as_secs_f64(),
        };
        let summary = sim.summary(timing.clone(), reproducibility);
        let (files, error) = match sim.write(dir, format, timing, reproducibility) {
            Ok(files) => (files, outcome.err()),
            Err(e) => (Vec::new(), Some(e)),
        };
        PointResult {
            point,
            summary: Some(summary),
            files,
            error,
        }
    }

    /// `sweep.csv`: a header, then one row per result: each swept value
    /// (in the unit the parameter was declared in; as a number without a
    /// declared unit), `rate_<population>_hz` of every population (over the
    /// time reached; empty if the network was not built), `run`, the run's
    /// folder name (quoted), `status` (`ok`, `failed`, or `interrupted`
    /// for a run stopped early without an error) and `error` (why,
    /// quoted; empty if it did not fail).
    pub fn table(&self, results: &[PointResult]) -> String {
        let c = &self.compiled;
        let mut header: Vec<String> = self.axes.iter().map(|a| a.name.clone()).collect();
        header.extend(c.populations.iter().map(|p| format!("rate_{}_hz", p.name)));
        header.extend(["run", "status", "error"].map(String::from));
        let mut text = header.join(",");
        text.push('\n');
        let factors: Vec<f64> = self
            .targets
            .iter()
            .map(|t| self.display_factor(*t))
            .collect();
        for r in results {
            let mut row: Vec<String> = self
                .axes
                .iter()
                .zip(self.indices(r.point))
                .zip(&factors)
                .map(|((axis, i), f)| format!("{:?}", axis.values[i].value / f))
                .collect();
            for p in &c.populations {
                row.push(
                    r.summary
                        .as_ref()
                        .and_then(|s| s.populations.get(&p.name))
                        .map(|s| format!("{:?}", s.rate_hz))
                        .unwrap_or_default(),
                );
            }
            // Folder names hold commas.
            row.push(quoted(&self.folder_name(r.point)));
            let interrupted = r.summary.as_ref().is_some_and(|s| s.interrupted);
            match &r.error {
                None if interrupted => row.extend(["interrupted".to_string(), String::new()]),
                None => row.extend(["ok".to_string(), String::new()]),
                Some(e) => row.extend(["failed".to_string(), quoted(&e.to_string())]),
            }
            text.push_str(&row.join(","));
            text.push('\n');
        }
        text
    }

    /// Writes [`Sweep::table`] of `results` to `dir/sweep.csv`, atomically.
    pub fn write_table(
        &self,
        dir: &OutputDir,
        results: &[PointResult],
    ) -> Result<PathBuf, RunError> {
        Ok(dir.write_file(SWEEP_CSV, self.table(results).as_bytes())?)
    }

    /// The internal value of one unit of the unit `target` was declared in
    /// (1 without one).
    fn display_factor(&self, target: SetTarget) -> f64 {
        let c = &self.compiled;
        let q = match target {
            SetTarget::Network(k) => &c.network.params[k],
            SetTarget::Population { population, param } => {
                match c.network.populations[population].kind {
                    PopulationKind::Neuron(m) => {
                        &c.program.neurons[m as usize].params[param as usize]
                    }
                    _ => return 1.0,
                }
            }
        };
        q.unit.as_ref().map_or(1.0, |u| u.internal_factor)
    }
}

/// `label` as part of a folder name: no spaces; characters other than
/// ASCII letters, digits, `.`, `_`, `+`, `-` become `_`.
fn folder_label(label: &str) -> String {
    label
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A CSV field in double quotes (inner quotes doubled, on one line).
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\"").replace('\n', " "))
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
