//! A state that became NaN or infinite: which one, its last finite value,
//! and the likely cause.
//!
//! The run checks every state variable after every step and stops at the
//! first one that is not finite ([`super::Simulation::run_observed`]). It
//! keeps no copy of the state of the step before: that copy would cost on
//! every step of every run. But a run is bit-for-bit deterministic for a
//! given network and seed (whatever the number of threads), so the value
//! one step before the fault can be found afterwards by building the
//! network again, without recorders, and running it to that step
//! ([`NonFinite::look_back`]). That costs as much as the run up to the
//! fault, so it is done only for runs that took at most
//! [`LOOK_BACK_LIMIT_S`] of wall-clock time; otherwise the message says how
//! to see the value.
//!
//! From the last finite value (and the one before it) and the population's
//! solver a likely cause is named ([`NonFinite::likely_cause`]): a value
//! that grew huge under a fixed-step explicit solver points at a time step
//! too large for it; an ordinary value that turned into NaN or infinity in
//! one step points at an operation of the equations (0/0, the logarithm or
//! square root of a negative number, an overflowing `exp`).

use nmlc_compiler::diagnostics::Diagnostic;
use nmlc_compiler::model::SolverKind;
use nmlc_compiler::source::Span;

use super::compile::{CompiledKind, CompiledNetwork};
use super::simulation::{Progress, Simulation};

/// The longest run (wall-clock seconds up to the fault) that
/// [`NonFinite::look_back`] runs again to find the last finite value.
pub const LOOK_BACK_LIMIT_S: f64 = 60.0;

/// A value whose magnitude (in the variable's declared unit) is above this
/// has grown without bound, rather than being an ordinary state.
const HUGE: f64 = 1e6;

/// A state variable of one neuron that became NaN or infinite.
#[derive(Clone, Debug)]
pub struct NonFinite {
    /// The population.
    pub population: String,
    /// The neuron index within the population.
    pub neuron: u32,
    /// The variable.
    pub variable: String,
    /// The unit the variable was declared in (empty if dimensionless).
    pub unit: String,
    /// The internal value of one of `unit`.
    pub unit_factor: f64,
    /// The value found (NaN or ±infinity).
    pub value: f64,
    /// The step boundary at which it was found: the state at
    /// `t = step · dt`, after step `step - 1`; 0 for the initial state.
    pub step: u64,
    /// `step · dt` (ms).
    pub time_ms: f64,
    /// The time step (ms).
    pub dt_ms: f64,
    /// The population's solver.
    pub solver: SolverKind,
    /// Where the model or network asks for the solver, if it does.
    pub solver_span: Option<Span>,
    /// The variable's declaration (not known for a synapse's post state).
    pub declaration_span: Option<Span>,
    /// The variable's equation, if it has one.
    pub equation_span: Option<Span>,
    /// What is known of the values before.
    pub history: History,
    /// The population's index, for the look back.
    population_index: usize,
    /// The state's index in the population's IR.
    state: u32,
}

/// What is known of a variable's values before it stopped being finite.
#[derive(Clone, Debug, PartialEq)]
pub enum History {
    /// The initial value is not finite: there is no value before.
    Initial,
    /// Not looked for (yet).
    NotLookedFor,
    /// Found by running the network again: the value at the step boundary
    /// before the fault and, if there is one, at the boundary before that
    /// (internal units).
    Found {
        /// At `step - 1`.
        last: f64,
        /// At `step - 2`.
        before: Option<f64>,
    },
    /// The run again was stopped (by an interrupt).
    GivenUp,
    /// The run took too long (wall-clock seconds) to be run again.
    TooLong {
        /// The time the run took up to the fault.
        simulate_s: f64,
    },
    /// Running again did not reproduce the run (a bug in nmlc): why.
    Unavailable(String),
}

/// Why a state probably stopped being finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LikelyCause {
    /// The initial value is not finite.
    InitialValue,
    /// The value grew huge under a fixed-step explicit solver.
    StepTooLarge,
    /// The value grew huge under a solver that is stable for the step
    /// (exact, exponential Euler, adaptive): the equations diverge.
    Diverging,
    /// An ordinary value became NaN in one step.
    InvalidOperation,
    /// An ordinary value became infinite in one step.
    Overflow,
    /// The adaptive solver could not finish a step: its step size
    /// collapsed, and it set the states to NaN (see the `rk45` pass).
    AdaptiveGaveUp,
}

impl NonFinite {
    /// The fault of state `state` (an IR state index) of neuron `neuron`
    /// of population `p`, found with `value` at step boundary `step`.
    pub(crate) fn new(
        compiled: &CompiledNetwork,
        p: usize,
        state: u32,
        neuron: u32,
        value: f64,
        step: u64,
    ) -> NonFinite {
        let population = &compiled.populations[p];
        let mut fault = NonFinite {
            population: population.name.clone(),
            neuron,
            variable: String::new(),
            unit: String::new(),
            unit_factor: 1.0,
            value,
            step,
            time_ms: crate::output::grid_time(step, compiled.dt_ms),
            dt_ms: compiled.dt_ms,
            solver: SolverKind::Exact,
            solver_span: None,
            declaration_span: None,
            equation_span: None,
            history: if step == 0 {
                History::Initial
            } else {
                History::NotLookedFor
            },
            population_index: p,
            state,
        };
        let CompiledKind::Neuron { ir, model, .. } = &population.kind else {
            return fault;
        };
        if let Some(v) = ir.states.get(state as usize) {
            fault.variable.clone_from(&v.name);
            fault.unit.clone_from(&v.unit);
            fault.unit_factor = v.unit_factor;
        }
        fault.solver = ir.solver.kind;
        let model = &compiled.program.neurons[*model as usize];
        if ir.solver.requested {
            fault.solver_span = compiled
                .network
                .solver
                .as_ref()
                .or(model.solver.as_ref())
                .map(|s| s.span);
        }
        // Synapse post state (`Ce.g`) is not a state of the neuron model.
        if let Some(k) = model.states.iter().position(|q| q.name == fault.variable) {
            fault.declaration_span = Some(model.states[k].span);
            fault.equation_span = model
                .odes
                .iter()
                .find(|o| o.state as usize == k)
                .map(|o| o.span);
        }
        fault
    }

    /// Finds the last finite value by building the network again (without
    /// recorders) and running it to the step before the fault, if the run
    /// took at most [`LOOK_BACK_LIMIT_S`] (`simulate_s`, wall-clock
    /// seconds); otherwise notes that it took too long. `compiled` must be
    /// the network that ran, with the same values. `go_on` is called after
    /// every step of the run again, as the observer of
    /// [`Simulation::run_observed`]: when it returns `false` the search is
    /// given up.
    pub fn look_back(
        &mut self,
        compiled: &CompiledNetwork,
        simulate_s: f64,
        go_on: &mut dyn FnMut(&Progress) -> bool,
    ) {
        if self.history != History::NotLookedFor {
            return;
        }
        self.history = if simulate_s > LOOK_BACK_LIMIT_S {
            History::TooLong { simulate_s }
        } else {
            match self.replay(compiled, go_on) {
                Ok(Some((last, before))) => History::Found { last, before },
                Ok(None) => History::GivenUp,
                Err(why) => History::Unavailable(why),
            }
        };
    }

    /// The values at step boundaries `step - 1` and `step - 2` of a run of
    /// `compiled` built again; `None` if `go_on` stopped it.
    fn replay(
        &self,
        compiled: &CompiledNetwork,
        go_on: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<Option<(f64, Option<f64>)>, String> {
        let mut sim = Simulation::build_unrecorded(compiled).map_err(|e| e.to_string())?;
        let (p, k, i) = (self.population_index, self.state, self.neuron as usize);
        let mut run_to = |sim: &mut Simulation, boundary: u64| -> Result<bool, String> {
            if sim.progress().steps_done < boundary {
                sim.run_observed(&mut |p| p.steps_done < boundary && go_on(p))
                    .map_err(|e| e.to_string())?;
            }
            Ok(sim.progress().steps_done == boundary)
        };
        let mut before = None;
        if self.step >= 2 {
            if !run_to(&mut sim, self.step - 2)? {
                return Ok(None);
            }
            before = sim.state_value(p, k, i);
        }
        if !run_to(&mut sim, self.step - 1)? {
            return Ok(None);
        }
        let last = sim
            .state_value(p, k, i)
            .ok_or("the variable has no storage")?;
        if !last.is_finite() {
            return Err(format!(
                "running again gave {last} already at t = {} ms",
                self.last_time_ms()
            ));
        }
        Ok(Some((last, before)))
    }

    /// Why the value probably stopped being finite, when that can be told.
    pub fn likely_cause(&self) -> Option<LikelyCause> {
        let (last, before) = match self.history {
            History::Initial => return Some(LikelyCause::InitialValue),
            History::Found { last, before } => (last, before),
            _ => return None,
        };
        // `rk45` accepts no step whose error estimate is NaN, so a NaN
        // state is its giving up.
        if self.solver == SolverKind::Rk45 && self.value.is_nan() {
            return Some(LikelyCause::AdaptiveGaveUp);
        }
        let magnitude = (last / self.unit_factor).abs();
        let grew = before.is_some_and(|b| last.abs() > 1e3 * b.abs() && magnitude > 1.0);
        if magnitude > HUGE || grew {
            Some(if fixed_step_explicit(self.solver) {
                LikelyCause::StepTooLarge
            } else {
                LikelyCause::Diverging
            })
        } else if self.value.is_nan() {
            Some(LikelyCause::InvalidOperation)
        } else {
            Some(LikelyCause::Overflow)
        }
    }

    /// The first sentence: what became what, where and when, and that the
    /// run stopped.
    pub fn headline(&self) -> String {
        let what = format!(
            "`{}` of neuron {} of population `{}`",
            self.variable, self.neuron, self.population
        );
        if self.step == 0 {
            format!(
                "{what} is {} at t = 0 ms; the simulation did not start",
                self.value
            )
        } else {
            format!(
                "{what} became {} at t = {} ms; the simulation stopped",
                self.value, self.time_ms
            )
        }
    }

    /// The time of the step boundary before the fault (ms).
    pub fn last_time_ms(&self) -> f64 {
        crate::output::grid_time(self.step.saturating_sub(1), self.dt_ms)
    }

    /// What was before: the last finite value, or why it is not known and
    /// how to see it.
    pub fn history_text(&self) -> String {
        let t_last = self.last_time_ms();
        match &self.history {
            History::Initial => "this is its initial value, before the first step".to_string(),
            History::Found { last, .. } => format!(
                "its last finite value was {} = {} at t = {t_last} ms",
                self.variable,
                self.quantity(*last)
            ),
            History::NotLookedFor => "its last finite value was not looked for".to_string(),
            History::GivenUp => "the search for its last finite value was interrupted".to_string(),
            History::TooLong { simulate_s } => format!(
                "its last finite value is not known: finding it means running the network again \
                 up to t = {t_last} ms, which is done only for runs of up to {LOOK_BACK_LIMIT_S} s \
                 (this one took {simulate_s:.0} s); to see it, run again with `--duration {t_last}ms` \
                 and `record {} of {}[{}:{}]`",
                self.variable,
                self.population,
                self.neuron,
                self.neuron + 1
            ),
            History::Unavailable(why) => format!(
                "its last finite value could not be found ({why}; this is a bug in nmlc, please \
                 report it with the model file)"
            ),
        }
    }

    /// The likely cause as advice; general advice when it cannot be told.
    pub fn cause_text(&self) -> String {
        let solver = self.solver.name();
        let Some(cause) = self.likely_cause() else {
            return "a smaller dt, another solver or different parameters may help".to_string();
        };
        match cause {
            LikelyCause::InitialValue => "check the initial values and the parameters they use \
                 (a division by zero, the logarithm of a negative number, …)"
                .to_string(),
            LikelyCause::StepTooLarge => {
                let another = if self.solver == SolverKind::EulerMaruyama {
                    String::new()
                } else {
                    " or another solver (without `solver`, nmlc chooses one; `rk45` adapts its step)"
                        .to_string()
                };
                format!(
                    "the value grew without bound: dt = {} ms is probably too large for the \
                     explicit solver `{solver}`; try a smaller dt (e.g. `--dt {}ms`){another}",
                    self.dt_ms,
                    short_number(self.dt_ms / 10.0)
                )
            }
            LikelyCause::Diverging => format!(
                "the value grew without bound under the solver `{solver}`: the equations \
                 probably diverge with these parameters and inputs"
            ),
            LikelyCause::InvalidOperation => "it went from an ordinary value to NaN in one step: \
                 probably a 0/0, the logarithm or square root of a negative number, or an `exp` \
                 that overflowed, in the model's equations"
                .to_string(),
            LikelyCause::Overflow => "it went from an ordinary value to infinity in one step: \
                 probably a division by zero or an `exp` that overflowed, in the model's equations"
                .to_string(),
            LikelyCause::AdaptiveGaveUp => {
                "the adaptive solver `rk45` could not finish this step: \
                 its step size shrank below 1e-12·dt without meeting the error tolerance, so it \
                 gave up and set the state to NaN; the solution probably blows up in finite time \
                 here (the equations diverge), or the equations give NaN near this state \
                 (0/0, the logarithm or square root of a negative number)"
                    .to_string()
            }
        }
    }

    /// The error as a located diagnostic: the variable's equation, and
    /// the solver's choice when the time step is to blame.
    pub fn diagnostic(&self) -> Diagnostic {
        let mut d = Diagnostic::error("nml::non_finite", self.headline());
        let (span, label) = if self.step == 0 {
            (
                self.declaration_span,
                "declared here, with its initial value",
            )
        } else {
            (
                self.equation_span.or(self.declaration_span),
                "computed here",
            )
        };
        if let Some(span) = span {
            d = d.at(span, format!("`{}` is {label}", self.variable));
        }
        if self.likely_cause() == Some(LikelyCause::StepTooLarge)
            && let Some(span) = self.solver_span
        {
            d = d.also(span, "an explicit solver is chosen here");
        }
        d.help(format!("{}; {}", self.history_text(), self.cause_text()))
    }

    /// `value` in the variable's unit, with the unit.
    fn quantity(&self, value: f64) -> String {
        let number = short_number(value / self.unit_factor);
        if self.unit.is_empty() || self.unit == "1" {
            number
        } else {
            format!("{number} {}", self.unit)
        }
    }
}

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}; {}; {}",
            self.headline(),
            self.history_text(),
            self.cause_text()
        )
    }
}

/// Whether `solver` takes fixed explicit steps, so that a step too large
/// for the dynamics makes it blow up.
fn fixed_step_explicit(solver: SolverKind) -> bool {
    matches!(
        solver,
        SolverKind::Euler | SolverKind::Rk2 | SolverKind::Rk4 | SolverKind::EulerMaruyama
    )
}

/// A number for a message: plain with up to six decimals when it is of
/// ordinary size, in scientific notation otherwise (`1.234e154`).
fn short_number(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e6).contains(&a) {
        format!("{v:.3e}")
    } else {
        let text = format!("{v:.6}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" { "0" } else { text }.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fault of `x` (in mV) of neuron 3 of `P` at step 22 (2.2 ms).
    fn fault(solver: SolverKind, value: f64, history: History) -> NonFinite {
        NonFinite {
            population: "P".into(),
            neuron: 3,
            variable: "x".into(),
            unit: "mV".into(),
            unit_factor: 1.0,
            value,
            step: 22,
            time_ms: 2.2,
            dt_ms: 0.1,
            solver,
            solver_span: None,
            declaration_span: None,
            equation_span: None,
            history,
            population_index: 0,
            state: 0,
        }
    }

    fn found(last: f64, before: f64) -> History {
        History::Found {
            last,
            before: Some(before),
        }
    }

    #[test]
    fn a_huge_value_under_an_explicit_solver_blames_the_step() {
        for solver in [SolverKind::Euler, SolverKind::Rk2, SolverKind::Rk4] {
            let f = fault(solver, f64::INFINITY, found(-3e200, 2e200));
            assert_eq!(f.likely_cause(), Some(LikelyCause::StepTooLarge));
            let text = f.to_string();
            assert!(text.contains("last finite value was x = -3.000e200 mV at t = 2.1 ms"));
            assert!(text.contains(&format!(
                "dt = 0.1 ms is probably too large for the explicit solver `{}`; try a smaller dt (e.g. `--dt 0.01ms`) or another solver",
                solver.name()
            )));
        }
        // Noise needs Euler-Maruyama: only the step can change.
        let f = fault(SolverKind::EulerMaruyama, f64::NAN, found(5e7, 1.0));
        assert!(f.cause_text().ends_with("`--dt 0.01ms`)"));
    }

    #[test]
    fn sudden_growth_counts_as_huge() {
        let f = fault(SolverKind::Euler, f64::INFINITY, found(5e4, 10.0));
        assert_eq!(f.likely_cause(), Some(LikelyCause::StepTooLarge));
        let f = fault(SolverKind::Exact, f64::INFINITY, found(5e4, 10.0));
        assert_eq!(f.likely_cause(), Some(LikelyCause::Diverging));
    }

    #[test]
    fn an_ordinary_value_points_at_the_equations() {
        let nan = fault(SolverKind::Euler, f64::NAN, found(-0.5, 0.2));
        assert_eq!(nan.likely_cause(), Some(LikelyCause::InvalidOperation));
        assert!(
            nan.cause_text()
                .contains("square root of a negative number")
        );
        let inf = fault(SolverKind::Rk45, f64::NEG_INFINITY, found(700.0, 650.0));
        assert_eq!(inf.likely_cause(), Some(LikelyCause::Overflow));
        assert!(inf.cause_text().contains("division by zero"));
    }

    #[test]
    fn a_long_run_says_how_to_see_the_last_value() {
        let mut f = fault(SolverKind::Euler, f64::NAN, History::NotLookedFor);
        // Not replayed: the network is not needed when the run was long.
        f.history = History::TooLong { simulate_s: 75.0 };
        assert_eq!(f.likely_cause(), None);
        let text = f.to_string();
        assert!(text.contains("this one took 75 s"), "{text}");
        assert!(
            text.contains("run again with `--duration 2.1ms` and `record x of P[3:4]`"),
            "{text}"
        );
        assert!(text.ends_with("a smaller dt, another solver or different parameters may help"));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(short_number(0.01), "0.01");
        assert_eq!(short_number(-65.1234567), "-65.123457");
        assert_eq!(short_number(2.0), "2");
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(1.5e154), "1.500e154");
        assert_eq!(short_number(2.5e-5), "2.500e-5");
    }
}
