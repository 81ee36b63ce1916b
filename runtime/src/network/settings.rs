//! Values given on the command line with `--set NAME=VALUE`, and which of
//! them change between the runs of a sweep.
//!
//! A name without a dot is a network parameter (`g`); `POPULATION.PARAMETER`
//! is a model parameter of one population (`E.tau_m`), which replaces the
//! population's override in the file or the model's default, for that
//! population only. Every value's dimension must be the parameter's.
//!
//! A sweep compiles once and runs many times, so whatever its swept values
//! reach must stay out of the compiled code: a swept model parameter is a
//! per-neuron column, a population override that reads a swept network
//! parameter (or one whose default reads one) is computed per neuron when
//! the network is built. What is fixed at compilation (population sizes,
//! `dt`, `duration`, `seed`, spike-source times, parameters of synapses
//! integrated with their target, expressions of `t`) must not depend on a
//! swept value; [`Swept::fixed_at_compilation`] refuses those.

use nmlc_compiler::check::eval_constant;
use nmlc_compiler::diagnostics::Diagnostic;
use nmlc_compiler::model::{Expr, Network, PopulationKind, Program, Quantity};
use nmlc_compiler::names::did_you_mean_note;
use nmlc_compiler::units::{Dim, describe};

use super::error::{RunError, list};
use super::values::network_params_read;

/// What a `--set NAME=VALUE` sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetTarget {
    /// Network parameter `k` (`g`).
    Network(usize),
    /// A model parameter of one population (`E.tau_m`).
    Population {
        /// Index into the network's populations.
        population: usize,
        /// Index into the model's parameters.
        param: u32,
    },
}

/// Finds what `--set name=…` sets and checks that a value of dimension
/// `dim` fits it. Every failure is a usage error that names the valid
/// choices or the expected unit.
pub(crate) fn resolve_setting(
    program: &Program,
    network: &Network,
    name: &str,
    dim: Dim,
) -> Result<SetTarget, RunError> {
    let bad = |problem: String| RunError::BadSetting {
        setting: format!("--set {name}"),
        problem,
    };
    let Some((population, param)) = name.split_once('.') else {
        let Some(k) = network.params.iter().position(|q| q.name == name) else {
            let known: Vec<&str> = network.params.iter().map(|q| q.name.as_str()).collect();
            let example = network.populations.iter().find_map(|p| match p.kind {
                PopulationKind::Neuron(m) => program.neurons[m as usize]
                    .params
                    .first()
                    .map(|q| format!("`{}.{}`", p.name, q.name)),
                _ => None,
            });
            let mut problem = if known.is_empty() {
                format!("network `{}` has no parameters", network.name)
            } else {
                format!(
                    "no network parameter `{name}`{}; the parameters are {}",
                    did_you_mean_note(name, known.iter().copied()),
                    list(&known)
                )
            };
            if let Some(example) = example {
                problem.push_str(&format!(
                    " (a population's model parameter is written POPULATION.PARAMETER, e.g. {example})"
                ));
            }
            return Err(bad(problem));
        };
        check_dim(name, &network.params[k], dim)?;
        return Ok(SetTarget::Network(k));
    };
    let names: Vec<&str> = network
        .populations
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let Some(p) = network
        .populations
        .iter()
        .position(|p| p.name == population)
    else {
        return Err(bad(format!(
            "no population `{population}` in network `{}`{}; the populations are {}",
            network.name,
            did_you_mean_note(population, names.iter().copied()),
            list(&names)
        )));
    };
    let PopulationKind::Neuron(m) = network.populations[p].kind else {
        return Err(bad(format!(
            "`{population}` is a spike source, which has no model parameters"
        )));
    };
    let model = &program.neurons[m as usize];
    let Some(k) = model.params.iter().position(|q| q.name == param) else {
        let known: Vec<&str> = model.params.iter().map(|q| q.name.as_str()).collect();
        return Err(bad(if known.is_empty() {
            format!(
                "population `{population}` (model `{}`) has no parameters",
                model.name
            )
        } else {
            format!(
                "population `{population}` (model `{}`) has no parameter `{param}`{}; its parameters are {}",
                model.name,
                did_you_mean_note(param, known.iter().copied()),
                list(&known)
            )
        }));
    };
    check_dim(name, &model.params[k], dim)?;
    Ok(SetTarget::Population {
        population: p,
        param: k as u32,
    })
}

/// A usage error unless a value of dimension `given` fits parameter `q`;
/// the message names the parameter's dimension and unit and gives an
/// example in the unit it was declared in.
fn check_dim(name: &str, q: &Quantity, given: Dim) -> Result<(), RunError> {
    if q.dim == given {
        return Ok(());
    }
    let mut problem = format!(
        "`{name}` is {}, but the value given is {}",
        describe(q.dim),
        describe(given)
    );
    // The default, in the declared unit, makes a good example.
    if let Some(v) = q.value.as_ref().and_then(|e| eval_constant(e, &[])) {
        let (v, unit) = match &q.unit {
            Some(u) => (v / u.internal_factor, u.text.as_str()),
            None => (v, ""),
        };
        let v = (v * 1e9).round() / 1e9;
        problem.push_str(&format!(" (e.g. `--set {name}={v}{unit}`)"));
    }
    Err(RunError::BadSetting {
        setting: format!("--set {name}"),
        problem,
    })
}

/// Network parameter values: defaults in declaration order (each may use
/// the ones before it), replaced by `--set` values of network parameters
/// (the last one given wins). Names with a dot are population parameters
/// and are left to the populations. The names must have been resolved
/// with [`resolve_setting`].
pub(crate) fn network_parameters(
    network: &Network,
    set: &[(String, f64, Dim)],
) -> Result<Vec<f64>, RunError> {
    let mut values = Vec::new();
    for q in &network.params {
        let value = match set.iter().rev().find(|(n, _, _)| *n == q.name) {
            Some((_, v, _)) => *v,
            None => q
                .value
                .as_ref()
                .and_then(|e| eval_constant(e, &values))
                .ok_or_else(|| {
                    RunError::model(
                        Diagnostic::error(
                            "nml::not_constant",
                            format!("network parameter `{}` has no fixed value", q.name),
                        )
                        .at(q.span, "declared here"),
                    )
                })?,
        };
        values.push(value);
    }
    Ok(values)
}

/// What changes between the runs of a sweep; empty for a single run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Swept {
    /// Per network parameter: the swept parameter its value follows (itself,
    /// or one its default reads, directly or not); `None` if fixed. Empty
    /// when nothing is swept.
    pub network: Vec<Option<String>>,
    /// `(population, parameter)` of every swept model parameter.
    pub population: Vec<(usize, u32)>,
}

impl Swept {
    /// The swept values of `network`: `targets` are the swept settings by
    /// name. A network parameter set to a fixed value on the command line
    /// (`fixed`) does not follow what its default reads.
    pub fn new(network: &Network, targets: &[(String, SetTarget)], fixed: &[String]) -> Swept {
        let mut swept = Swept {
            network: vec![None; network.params.len()],
            population: Vec::new(),
        };
        for (name, target) in targets {
            match *target {
                SetTarget::Network(k) => swept.network[k] = Some(name.clone()),
                SetTarget::Population { population, param } => {
                    swept.population.push((population, param))
                }
            }
        }
        // Defaults read only earlier parameters, so one pass in order
        // reaches every parameter that depends on a swept one.
        for (k, q) in network.params.iter().enumerate() {
            if swept.network[k].is_some() || fixed.contains(&q.name) {
                continue;
            }
            if let Some(e) = &q.value {
                swept.network[k] = swept.reads(e).map(String::from);
            }
        }
        swept
    }

    /// The swept parameter whose value `e` depends on, if any.
    pub fn reads(&self, e: &Expr) -> Option<&str> {
        network_params_read(e)
            .into_iter()
            .find_map(|k| self.network.get(k as usize).and_then(|s| s.as_deref()))
    }

    /// A usage error if `e`, which is fixed when the network is compiled
    /// (`what` it sets, e.g. "the size of population `E`"), depends on a
    /// swept value.
    pub fn fixed_at_compilation(
        &self,
        e: &Expr,
        what: impl Fn() -> String,
    ) -> Result<(), RunError> {
        match self.reads(e) {
            None => Ok(()),
            Some(name) => Err(RunError::BadSetting {
                setting: format!("--set {name}"),
                problem: format!(
                    "cannot be swept: {} depends on it and is fixed when the network is compiled; \
                     run each value with `nmlc run --set {name}=…`",
                    what()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nmlc_compiler::loader::DiskReader;

    const NET: &str = "
import stdlib.neurons.lif

network Net {
    parameters {
        g = 4
        w: mV = 0.1 mV
    }
    E = LIF(2)
    S = SpikeSource(1) { times = [1 ms] }
}
";

    /// The problem `--set name=…` of dimension `dim` has, if any.
    fn problem(name: &str, dim: Dim) -> Option<String> {
        let c = nmlc_compiler::compile_text("net.nml", NET, None, &DiskReader);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let network = &c.program.networks[0];
        match resolve_setting(&c.program, network, name, dim) {
            Ok(_) => None,
            Err(e) => {
                assert_eq!(e.exit_code(), 2, "{e}");
                Some(e.to_string())
            }
        }
    }

    #[test]
    fn both_forms_resolve() {
        assert_eq!(problem("g", Dim::ONE), None);
        assert_eq!(problem("E.tau_m", Dim::TIME), None);
    }

    #[test]
    fn a_wrong_name_lists_the_valid_ones() {
        let p = problem("gg", Dim::ONE).unwrap();
        assert!(
            p.contains("`g`, `w`") && p.contains("(did you mean `g`?)"),
            "{p}"
        );
        assert!(p.contains("POPULATION.PARAMETER, e.g. `E.tau_m`"), "{p}");
        let p = problem("X.tau_m", Dim::TIME).unwrap();
        assert!(
            p.contains("no population `X`") && p.contains("`E`, `S`"),
            "{p}"
        );
        let p = problem("E.tau", Dim::TIME).unwrap();
        assert!(
            p.contains("no parameter `tau`") && p.contains("`tau_m`, `C_m`"),
            "{p}"
        );
        let p = problem("S.times", Dim::TIME).unwrap();
        assert!(p.contains("spike source"), "{p}");
    }

    #[test]
    fn a_wrong_unit_names_the_expected_one() {
        let p = problem("E.tau_m", Dim::VOLTAGE).unwrap();
        assert_eq!(
            p,
            "--set E.tau_m: `E.tau_m` is a time (ms), but the value given is a voltage (mV) \
             (e.g. `--set E.tau_m=10ms`)"
        );
        let p = problem("g", Dim::VOLTAGE).unwrap();
        assert!(
            p.contains("dimensionless") && p.contains("`--set g=4`"),
            "{p}"
        );
    }
}
