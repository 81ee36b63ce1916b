//! Recorders: which spikes, variables and rates a run keeps.
//!
//! - `record spikes of S` keeps the spikes of the neurons of `S`; several
//!   recorders of one population add up to the union of their neurons.
//! - `record X, Y of S [every T]` samples each variable of the neurons of
//!   `S` at t = 0 and after every step whose end `t_{n+1}` is a multiple of
//!   `T` (default: every step). Recorders of the same variable of one
//!   population with the same interval are merged into one trace (the union
//!   of their neurons, in index order). Values are in the variable's
//!   declared unit: `value = internal / unit_factor`.
//! - `record rate of S every T` counts the spikes of `S` in bins of `T`:
//!   bin `b` holds the steps `b·k … (b+1)·k − 1` (`k = T/dt`), whose spikes
//!   are stamped in `(b·T, (b+1)·T]`; its rate is `count / (neurons · T)` in
//!   Hz, labelled with the bin's start `b·T`. A last bin cut short by the
//!   end of the run is divided by its actual width.

use nmlc_compiler::check::eval_constant;
use nmlc_compiler::diagnostics::Diagnostic;
use nmlc_compiler::ir::{Expr as IrExpr, Handle, Place};
use nmlc_compiler::model::{RecordKind, Selection, Var};

use super::compile::{CompiledKind, CompiledNetwork};
use super::error::RunError;

/// Where a trace's values come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TraceSource {
    /// A column, by binding index.
    Column(usize),
    /// An inline definition, evaluated by the interpreter.
    Observable(Handle<IrExpr>),
}

/// One recorded variable of some neurons of a population.
pub(crate) struct Trace {
    pub population: usize,
    pub variable: String,
    pub source: TraceSource,
    /// The unit as declared, empty if dimensionless.
    pub unit: String,
    pub unit_factor: f64,
    pub neurons: Vec<u32>,
    pub every_steps: u64,
    pub times_ms: Vec<f64>,
    /// Row-major: one row per time, one column per neuron.
    pub values: Vec<f64>,
}

/// A population rate recorder.
pub(crate) struct Rate {
    pub population: usize,
    pub start: u32,
    pub end: u32,
    pub every_steps: u64,
    /// `rate_<population>` or `rate_<population>_<start>_<end>`.
    pub stem: String,
    /// Spikes per bin.
    pub counts: Vec<u64>,
}

/// Everything recorded during a run.
pub(crate) struct Recorders {
    /// Per population: whether each neuron's spikes are kept (`None`: no
    /// spike recorder on this population).
    pub spike_mask: Vec<Option<Vec<bool>>>,
    /// Per population: `(step, neuron)` of the kept spikes, in time order.
    pub spikes: Vec<Vec<(u64, u32)>>,
    pub traces: Vec<Trace>,
    pub rates: Vec<Rate>,
}

impl Recorders {
    /// No recorders, for a network of `populations` populations that is
    /// run only to look at its state.
    pub fn none(populations: usize) -> Recorders {
        Recorders {
            spike_mask: vec![None; populations],
            spikes: vec![Vec::new(); populations],
            traces: Vec::new(),
            rates: Vec::new(),
        }
    }

    /// Records the spikes of `population` in step `step` (stamped at its
    /// end) and counts them into the population-rate bins.
    pub fn record_spikes(&mut self, population: usize, step: u64, spiked: &[u32]) {
        if let Some(mask) = &self.spike_mask[population] {
            for &j in spiked {
                if mask.get(j as usize).copied().unwrap_or(false) {
                    self.spikes[population].push((step + 1, j));
                }
            }
        }
        for rate in self.rates.iter_mut().filter(|x| x.population == population) {
            let count = spiked
                .iter()
                .filter(|j| (rate.start..rate.end).contains(j))
                .count() as u64;
            if let Some(bin) = rate.counts.get_mut((step / rate.every_steps) as usize) {
                *bin += count;
            }
        }
    }

    /// The recorders of a compiled network, with nothing recorded yet.
    pub fn new(c: &CompiledNetwork) -> Result<Recorders, RunError> {
        let n_pop = c.populations.len();
        let mut r = Recorders {
            spike_mask: vec![None; n_pop],
            spikes: vec![Vec::new(); n_pop],
            traces: Vec::new(),
            rates: Vec::new(),
        };
        let steps = c.steps();
        for rec in &c.network.records {
            let (population, start, end) = selection(c, &rec.of)?;
            let every_steps = match &rec.every {
                None => 1,
                Some(e) => {
                    let every = eval_constant(e, &c.network_params).ok_or_else(|| {
                        RunError::model(
                            Diagnostic::error(
                                "nml::not_constant",
                                "the recording interval must be a constant",
                            )
                            .at(e.span, "not a constant"),
                        )
                    })?;
                    let k = (every / c.dt_ms).round();
                    if k < 1.0 || (k * c.dt_ms - every).abs() > 1e-9 * every {
                        return Err(RunError::model(
                            Diagnostic::error(
                                "nml::invalid_value",
                                format!(
                                    "the recording interval ({every} ms) must be a whole multiple of the time step ({} ms)",
                                    c.dt_ms
                                ),
                            )
                            .at(e.span, "not a multiple of dt"),
                        ));
                    }
                    k as u64
                }
            };
            match &rec.kind {
                RecordKind::Spikes => {
                    let size = c.populations[population].size as usize;
                    let mask = r.spike_mask[population].get_or_insert_with(|| vec![false; size]);
                    mask[start as usize..end as usize]
                        .iter_mut()
                        .for_each(|m| *m = true);
                }
                RecordKind::Rate => {
                    let name = &c.populations[population].name;
                    let stem = if start == 0 && end == c.populations[population].size {
                        format!("rate_{name}")
                    } else {
                        format!("rate_{name}_{start}_{end}")
                    };
                    if r.rates.iter().any(|x| x.stem == stem) {
                        continue;
                    }
                    let bins = steps.div_ceil(every_steps) as usize;
                    r.rates.push(Rate {
                        population,
                        start,
                        end,
                        every_steps,
                        stem,
                        counts: vec![0; bins],
                    });
                }
                RecordKind::Variables(vars) => {
                    for (name, var) in vars {
                        r.add_trace(c, population, start..end, name, *var, every_steps, rec.span)?;
                    }
                }
            }
        }
        Ok(r)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_trace(
        &mut self,
        c: &CompiledNetwork,
        population: usize,
        neurons: std::ops::Range<u32>,
        name: &str,
        var: Var,
        every_steps: u64,
        span: nmlc_compiler::source::Span,
    ) -> Result<(), RunError> {
        if let Some(t) = self
            .traces
            .iter_mut()
            .find(|t| t.population == population && t.variable == name)
        {
            if t.every_steps != every_steps {
                return Err(RunError::model(
                    Diagnostic::error(
                        "nml::invalid_value",
                        format!(
                            "`{name}` of `{}` is recorded at two different intervals",
                            c.populations[population].name
                        ),
                    )
                    .at(span, "record it at one interval"),
                ));
            }
            t.neurons.extend(neurons);
            t.neurons.sort_unstable();
            t.neurons.dedup();
            return Ok(());
        }
        let CompiledKind::Neuron { ir, verified, .. } = &c.populations[population].kind else {
            return Ok(());
        };
        let column = |place| verified.binding(place).map(TraceSource::Column);
        let (source, variable) = match var {
            Var::State(k) => (column(Place::State(k)), ir.states.get(k as usize)),
            Var::Input(k) => (column(Place::Input(k)), ir.inputs.get(k as usize)),
            Var::Alias(k) => match ir.observables.get(k as usize) {
                Some((v, h)) => (Some(TraceSource::Observable(*h)), Some(v)),
                None => (None, None),
            },
            _ => (None, None),
        };
        let (Some(source), Some(variable)) = (source, variable) else {
            return Err(RunError::model(
                Diagnostic::error(
                    "nml::internal",
                    format!("`{name}` cannot be recorded (a bug in nmlc)"),
                )
                .at(span, "this recorder"),
            ));
        };
        self.traces.push(Trace {
            population,
            variable: name.to_string(),
            source,
            unit: if variable.unit == "1" {
                String::new()
            } else {
                variable.unit.clone()
            },
            unit_factor: variable.unit_factor,
            neurons: neurons.collect(),
            every_steps,
            times_ms: Vec::new(),
            values: Vec::new(),
        });
        Ok(())
    }
}

/// A selection as (population, first neuron, one past the last).
fn selection(c: &CompiledNetwork, s: &Selection) -> Result<(usize, u32, u32), RunError> {
    let population = s.population as usize;
    let size = c.populations[population].size;
    let bound = |e: &Option<nmlc_compiler::model::Expr>, default: u32| -> Result<u32, RunError> {
        match e {
            None => Ok(default),
            Some(e) => eval_constant(e, &c.network_params)
                .filter(|v| *v >= 0.0 && v.fract() == 0.0 && *v <= f64::from(size))
                .map(|v| v as u32)
                .ok_or_else(|| {
                    RunError::model(
                        Diagnostic::error(
                            "nml::out_of_range",
                            format!(
                                "the bound is outside population `{}` (0 to {size})",
                                c.populations[population].name
                            ),
                        )
                        .at(e.span, "this bound"),
                    )
                }),
        }
    };
    let start = bound(&s.start, 0)?;
    let end = bound(&s.end, size)?;
    Ok((population, start, end.max(start)))
}
