//! Every diagnostic nmlc can emit, worded in one place.
//!
//! Each function takes the structured facts a check found and returns a
//! [`Diagnostic`] with a stable code, the located labels and help. Codes are
//! part of the user interface: editors and scripts match on them, so they are
//! never renamed.

use super::Diagnostic;
use crate::source::Span;
use crate::units::{Dim, describe, unit_text};

fn suggest(candidates: &[String]) -> Option<String> {
    match candidates {
        [] => None,
        [one] => Some(format!("did you mean `{one}`?")),
        many => Some(format!(
            "did you mean one of {}?",
            many.iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

// ------------------------------------------------------------------ input

/// The file is not valid UTF-8.
pub fn invalid_utf8(span: Span, offset: usize) -> Diagnostic {
    Diagnostic::error(
        "nml::invalid_utf8",
        format!("this file is not valid UTF-8 text (first bad byte at offset {offset})"),
    )
    .at(span, "invalid byte here")
    .help("NML files are UTF-8 text; check that this is the model file you meant")
}

/// A file could not be read.
pub fn unreadable_file(path: &str, reason: &str, import: Option<Span>) -> Diagnostic {
    let d = Diagnostic::error("nml::io", format!("cannot read `{path}`: {reason}"));
    match import {
        Some(span) => d.at(span, "imported here"),
        None => d,
    }
}

/// A syntax error from the parser.
pub fn syntax(span: Span, expected: &[String], found: Option<&str>) -> Diagnostic {
    let expected_text = match expected {
        [] => "something else".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    };
    let message = match found {
        Some(f) => format!("expected {expected_text}, found {f}"),
        None => format!("expected {expected_text}"),
    };
    Diagnostic::error("nml::syntax", message).at(span, format!("expected {expected_text}"))
}

/// The file ends inside a `{ … }` block.
pub fn unclosed_block(end: Span, open: Span) -> Diagnostic {
    Diagnostic::error("nml::syntax", "the file ends before this block is closed")
        .at(end, "expected `}` before the end of the file")
        .also(open, "block opened here")
        .help("add the missing `}`")
}

/// Brackets or operators nested beyond the supported depth.
pub fn too_deeply_nested(span: Span, limit: usize) -> Diagnostic {
    Diagnostic::error(
        "nml::too_deeply_nested",
        format!("this is nested more than {limit} levels deep"),
    )
    .at(span, "nesting goes too deep here")
    .help("split the expression with `let` bindings or inline definitions")
}

/// A number literal that does not fit a 64-bit float.
pub fn invalid_number(span: Span) -> Diagnostic {
    Diagnostic::error("nml::invalid_number", "this number is out of range")
        .at(span, "not a finite 64-bit number")
}

/// A unit name nobody knows.
pub fn unknown_unit(
    span: Span,
    name: &str,
    candidates: &[String],
    after_number: bool,
) -> Diagnostic {
    let mut help = suggest(candidates);
    if after_number {
        let hint = format!(
            "a name right after a number is read as its unit; to multiply by a variable write `* {name}`"
        );
        help = Some(match help {
            Some(h) => format!("{h} {hint}"),
            None => hint,
        });
    }
    Diagnostic::error("nml::unknown_unit", format!("unknown unit `{name}`"))
        .at(span, "not a unit")
        .maybe_help(help)
}

/// A unit raised to a power that leaves a fractional exponent finer than 1/2.
pub fn unit_power(span: Span) -> Diagnostic {
    Diagnostic::error("nml::unit_power", "this power of a unit is not supported")
        .at(span, "exponents must be multiples of 1/2")
}

// ------------------------------------------------------------------ imports

/// An import that names no file.
pub fn import_not_found(span: Span, what: &str, candidates: &[String]) -> Diagnostic {
    Diagnostic::error("nml::import_not_found", format!("cannot find `{what}` to import"))
        .at(span, "no such file or standard-library module")
        .maybe_help(suggest(candidates).or_else(|| {
            Some("`stdlib.…` names the standard library (`nmlc doc` lists it); other paths are relative to this file".into())
        }))
}

/// Files that import each other in a circle.
pub fn import_cycle(span: Span, chain: &[String]) -> Diagnostic {
    Diagnostic::error(
        "nml::import_cycle",
        format!("files import each other in a cycle: {}", chain.join(" → ")),
    )
    .at(span, "this import closes the cycle")
    .help("move the shared models into a file that both import")
}

// ------------------------------------------------------------------ names

/// A name that is not defined where it is used. A `what` of the form
/// "variable of neuron `LIF`" reads "unknown variable `V` of neuron `LIF`".
pub fn unknown_name(span: Span, name: &str, what: &str, candidates: &[String]) -> Diagnostic {
    let message = match what.split_once(" of ") {
        Some((kind, owner)) => format!("unknown {kind} `{name}` of {owner}"),
        None => format!("unknown {what} `{name}`"),
    };
    Diagnostic::error("nml::unknown_name", message)
        .at(span, "not defined here")
        .maybe_help(suggest(candidates))
}

/// A name defined twice in one scope.
pub fn duplicate_definition(span: Span, first: Span, name: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::duplicate_definition",
        format!("{what} `{name}` is defined more than once"),
    )
    .at(span, "defined again here")
    .also(first, "first defined here")
}

/// A block or statement that may appear only once, appearing twice.
pub fn duplicate_block(span: Span, first: Span, what: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::duplicate_definition",
        format!("a model has at most one {what}"),
    )
    .at(span, "second one here")
    .also(first, "first one here")
}

/// A model used as the wrong kind (a synapse where a neuron is needed).
pub fn wrong_model_kind(span: Span, name: &str, expected: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::wrong_model_kind",
        format!("`{name}` is a {found}, but a {expected} is needed here"),
    )
    .at(span, format!("expected a {expected}"))
    .help(format!(
        "populations are made of neurons and projections use synapses; use a {expected} model here"
    ))
}

/// Models that extend each other in a circle.
pub fn extends_cycle(span: Span, chain: &[String]) -> Diagnostic {
    Diagnostic::error(
        "nml::extends_cycle",
        format!("models extend each other in a cycle: {}", chain.join(" → ")),
    )
    .at(span, "this `extends` closes the cycle")
    .help("a model can extend another only if that one does not, directly or through others, extend it back")
}

/// Functions that call each other (functions are inlined, so they cannot recurse).
pub fn recursive_function(span: Span, chain: &[String]) -> Diagnostic {
    Diagnostic::error(
        "nml::recursive_function",
        format!(
            "functions call each other recursively: {}",
            chain.join(" → ")
        ),
    )
    .at(span, "this call closes the cycle")
    .help("NML functions are inlined into the generated code and cannot recurse")
}

/// Inline definitions that depend on each other.
pub fn cyclic_definition(span: Span, chain: &[String]) -> Diagnostic {
    Diagnostic::error(
        "nml::cyclic_definition",
        format!(
            "definitions depend on each other in a cycle: {}",
            chain.join(" → ")
        ),
    )
    .at(span, "this use closes the cycle")
    .help("an inline definition may use other definitions, but not itself through them")
}

/// An assignment to a parameter.
pub fn assign_to_parameter(span: Span, name: &str, decl: Span) -> Diagnostic {
    Diagnostic::error(
        "nml::assign_to_parameter",
        format!("`{name}` is a parameter and cannot be assigned"),
    )
    .at(span, "assignment to a parameter")
    .also(decl, "declared as a parameter here")
    .help(format!(
        "declare `{name}` in `state {{ … }}` if it changes during the simulation"
    ))
}

/// An assignment to something read-only that is not a parameter.
pub fn assign_to_read_only(span: Span, name: &str, kind: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::assign_to_read_only",
        format!("cannot assign to {kind} `{name}`"),
    )
    .at(span, "read-only")
    .help(if kind.contains("input") {
        "inputs are written by the synapses that target the neuron; declare a state variable to change it in a handler".to_string()
    } else if kind.contains("let") {
        "a `let` value is fixed once bound; bind a new name instead".to_string()
    } else {
        format!("{kind} is computed, not stored; change the state it is computed from")
    })
}

/// An assignment to an undeclared variable.
pub fn assign_to_undeclared(span: Span, name: &str, candidates: &[String]) -> Diagnostic {
    Diagnostic::error(
        "nml::assign_to_undeclared",
        format!("`{name}` is not a declared state variable"),
    )
    .at(span, "assigned here")
    .maybe_help(suggest(candidates).or_else(|| {
        Some(format!("declare it in `state {{ {name}: UNIT = VALUE }}`, or use `let {name} = …` for a local value"))
    }))
}

/// `pre.X` or `post.X` outside a synapse.
pub fn pre_post_outside_synapse(span: Span, object: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::pre_post_outside_synapse",
        format!("`{object}.…` can only be used in a synapse or a `connect` block"),
    )
    .at(span, "not inside a synapse")
}

/// A call to a function that does not exist.
pub fn unknown_function(span: Span, name: &str, candidates: &[String]) -> Diagnostic {
    Diagnostic::error(
        "nml::unknown_function",
        format!("unknown function `{name}`"),
    )
    .at(span, "no such function")
    .maybe_help(suggest(candidates))
}

/// A call with the wrong number of arguments.
pub fn arity(span: Span, name: &str, expected: &str, found: usize) -> Diagnostic {
    Diagnostic::error(
        "nml::arity",
        format!("`{name}` takes {expected} argument(s) but {found} were given"),
    )
    .at(span, format!("{found} argument(s)"))
}

/// A named argument that the callee does not have.
pub fn unknown_argument(span: Span, name: &str, callee: &str, known: &[&str]) -> Diagnostic {
    let help = if known.is_empty() {
        format!("`{callee}` takes no named arguments")
    } else {
        format!(
            "`{callee}` accepts {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Diagnostic::error(
        "nml::unknown_argument",
        format!("`{callee}` has no argument `{name}`"),
    )
    .at(span, "unknown argument")
    .help(help)
}

// ------------------------------------------------------------------ types and units

/// A condition that is not true/false.
pub fn not_boolean(span: Span, found: Dim) -> Diagnostic {
    Diagnostic::error(
        "nml::not_boolean",
        "this condition is a number, not true/false",
    )
    .at(span, format!("{} here", describe(found)))
    .help("compare it with something, e.g. `V_m >= V_th`")
}

/// A true/false value where a number is needed.
pub fn not_numeric(span: Span) -> Diagnostic {
    Diagnostic::error("nml::not_numeric", "a true/false value is used as a number")
        .at(span, "this is a condition")
        .help("use `if c then 1 else 0` to turn a condition into a number")
}

/// Two operands whose dimensions must agree but do not.
pub fn unit_mismatch(op_span: Span, op: &str, left: (Span, Dim), right: (Span, Dim)) -> Diagnostic {
    // The primary label goes between the operands (on the operator), so
    // that it does not overlap the operands' own labels.
    let primary = if left.0.file == right.0.file && left.0.end < right.0.start {
        Span {
            file: left.0.file,
            start: left.0.end,
            end: right.0.start,
        }
    } else {
        op_span
    };
    Diagnostic::error(
        "nml::unit_mismatch",
        format!("cannot {op} {} and {}", describe(left.1), describe(right.1)),
    )
    .at(primary, "units do not match")
    .also(left.0, unit_text(left.1))
    .also(right.0, unit_text(right.1))
}

/// A value whose dimension differs from what its place requires.
pub fn unit_expected(
    span: Span,
    what: &str,
    expected: Dim,
    found: Dim,
    because: Option<Span>,
) -> Diagnostic {
    let d = Diagnostic::error(
        "nml::unit_mismatch",
        format!(
            "{what} must be {}, but this is {}",
            describe(expected),
            describe(found)
        ),
    )
    .at(
        span,
        format!("{}, expected {}", unit_text(found), unit_text(expected)),
    );
    let d = match because {
        Some(decl) => d.also(decl, format!("declared as {} here", unit_text(expected))),
        None => d,
    };
    d.help(conversion_hint(expected, found))
}

fn conversion_hint(expected: Dim, found: Dim) -> String {
    let ratio = expected.div(found);
    if ratio.is_dimensionless() {
        return "the dimensions agree; check the declared unit".into();
    }
    // A ratio without a name (s^4 m^-2 kg^-1 A) tells a modeller nothing.
    match ratio.quantity_name() {
        Some(name) if name != "dimensionless" => format!(
            "the two differ by a factor in {}; multiply by a {name} (or divide by its inverse)",
            unit_text(ratio)
        ),
        _ => "check the equation and the declared units".into(),
    }
}

/// An ODE whose right-hand side is not state/time.
pub fn derivative_unit(span: Span, var: &str, var_dim: Dim, found: Dim, decl: Span) -> Diagnostic {
    let expected = var_dim.div(Dim::TIME);
    Diagnostic::error(
        "nml::derivative_unit",
        format!(
            "the derivative of `{var}` must be in {} ({} per time), but the right-hand side is {}",
            unit_text(expected),
            unit_text(var_dim),
            describe(found)
        ),
    )
    .at(
        span,
        format!("{}, expected {}", unit_text(found), unit_text(expected)),
    )
    .also(decl, format!("`{var}` is in {}", unit_text(var_dim)))
    .help(if found == var_dim {
        "divide by a time constant, e.g. `(E_L - V) / tau`".to_string()
    } else {
        conversion_hint(expected, found)
    })
}

/// A function that needs a dimensionless argument given a quantity.
pub fn dimensionless_argument(span: Span, func: &str, found: Dim) -> Diagnostic {
    Diagnostic::error(
        "nml::dimensionless_argument",
        format!(
            "`{func}` needs a dimensionless argument, but this is {}",
            describe(found)
        ),
    )
    .at(span, unit_text(found))
    .help(format!(
        "divide by a reference value first, e.g. `{func}(V / mV)` or `{func}((V - V_T) / Delta_T)`"
    ))
}

/// A power of a dimensional quantity with an exponent that is not a constant.
pub fn power_exponent(span: Span, base: Dim) -> Diagnostic {
    Diagnostic::error(
        "nml::power_exponent",
        format!(
            "{} can only be raised to a number written in the model (such as `2` or `0.5`): a whole or half exponent",
            describe(base)
        ),
    )
    .at(span, "exponent")
    .help("use a number such as `2` or `0.5`, or make the base dimensionless")
}

/// A value that is out of the range its place allows.
pub fn invalid_value(span: Span, what: &str, value: &str, requirement: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::invalid_value",
        format!("{what} is {value}, but it must be {requirement}"),
    )
    .at(span, value.to_string())
}

// ------------------------------------------------------------------ equations and models

/// An ODE for something that is not a state variable.
pub fn ode_target(span: Span, name: &str, kind: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::ode_target",
        format!("`{name}` is {kind}; only state variables can have a derivative"),
    )
    .at(span, "not a state variable")
    .help(format!("declare `{name}` in `state {{ … }}`"))
}

/// Two equations for one variable.
pub fn duplicate_equation(span: Span, first: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::duplicate_equation",
        format!("`{name}` has more than one equation"),
    )
    .at(span, "second equation")
    .also(first, "first equation")
}

/// `xi` (white noise) outside the right-hand side of an ODE.
pub fn noise_placement(span: Span) -> Diagnostic {
    Diagnostic::error(
        "nml::noise_placement",
        "the white-noise term `xi` may only appear in a differential equation",
    )
    .at(span, "not in an ODE")
    .help("in handlers and resets use `randn()` for a normally distributed number")
}

/// A distribution (`uniform`, `normal`, …) inside a model.
pub fn distribution_in_model(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::distribution_in_model",
        format!(
            "`{name}(…)` draws values when a network is built and cannot be used inside a model"
        ),
    )
    .at(span, "only in network values")
    .help("inside models use `rand()` (uniform in [0, 1)) or `randn()` (standard normal)")
}

/// Random numbers where a value must be fixed once.
pub fn random_in_network(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::random_in_network",
        format!("`{name}()` gives a new number every step and is only for model equations"),
    )
    .at(span, "not allowed here")
    .help("to draw initial or per-neuron values use `uniform(a, b)`, `normal(mean, sd)`, `lognormal(mean, sd)` or `exponential(mean)`")
}

/// A kernel that is not a function of `t` or not linear.
pub fn kernel_form(span: Span, reason: &str) -> Diagnostic {
    Diagnostic::error("nml::kernel_form", format!("this kernel cannot be used: {reason}"))
        .at(span, "kernel")
        .help("a kernel is a function of `t` and parameters (`exp(-t / tau)`, `t / tau * exp(1 - t / tau)`) or a linear ODE in the kernel itself with initial values (`kernel g' = -g / tau { g = 1 }`)")
}

/// A spike input used as if it were a number.
pub fn spike_input_use(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::spike_input_use",
        format!(
            "`{name}` is a spike input; it has a value only through `convolve(kernel, {name})`"
        ),
    )
    .at(span, "spike input used as a value")
}

/// `convolve` used wrongly.
pub fn convolve_arguments(span: Span, problem: &str) -> Diagnostic {
    Diagnostic::error("nml::convolve", format!("`convolve` {problem}"))
        .at(span, "here")
        .help("write `convolve(KERNEL, SPIKE_INPUT)`, with a kernel defined in `equations` and an input declared as `NAME: spikes(UNIT)`")
}

/// `convolve` or a kernel in the wrong place.
pub fn convolve_placement(span: Span) -> Diagnostic {
    Diagnostic::error(
        "nml::convolve",
        "`convolve` may only appear in a neuron's equations, inline definitions, conditions and handlers",
    )
    .at(span, "not allowed here")
}

/// A `refractory` statement in a model that never spikes.
pub fn refractory_without_spike(span: Span) -> Diagnostic {
    Diagnostic::error(
        "nml::refractory_without_spike",
        "`refractory` needs a `spike when …` rule in the same model",
    )
    .at(span, "refractory period of a model that never spikes")
}

/// An unknown solver.
pub fn unknown_solver(span: Span, name: &str, candidates: &[String]) -> Diagnostic {
    Diagnostic::error("nml::unknown_solver", format!("unknown solver `{name}`"))
        .at(span, "no such solver")
        .maybe_help(suggest(candidates).or_else(|| {
            Some("solvers: exact, exponential_euler, euler, rk2, rk4, rk45, euler_maruyama".into())
        }))
}

// ------------------------------------------------------------------ synapses and networks

/// `post.X` or an output naming a neuron input that is continuous, from an event handler.
pub fn input_assignment(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::input_assignment",
        format!("`{name}` is a continuous input of the neuron and cannot be changed by an event"),
    )
    .at(span, "continuous input")
    .help("synapses drive continuous inputs with `output NAME = …`; events change state variables (`post.g += w`) or spike inputs")
}

/// An output aimed at something that is not a continuous input.
pub fn output_target(span: Span, name: &str, neuron: &str, candidates: &[String]) -> Diagnostic {
    Diagnostic::error(
        "nml::output_target",
        format!("neuron `{neuron}` has no continuous input `{name}`"),
    )
    .at(span, "the synapse's output goes here")
    .maybe_help(suggest(candidates).or_else(|| {
        Some(format!(
            "declare it in the neuron: `inputs {{ {name}: UNIT }}`"
        ))
    }))
}

/// A projection that would do nothing.
pub fn empty_projection(span: Span) -> Diagnostic {
    Diagnostic::error(
        "nml::empty_projection",
        "this projection has no synapse model and no `on pre` handler, so spikes would have no effect",
    )
    .at(span, "nothing happens on a spike")
    .help("add `synapse = MODEL` or an inline handler such as `on pre { post.g_e += w }`")
}

/// A projection with both a named synapse and inline handlers.
pub fn conflicting_synapse(span: Span, synapse: Span) -> Diagnostic {
    Diagnostic::error(
        "nml::conflicting_synapse",
        "a projection uses either a synapse model or inline handlers, not both",
    )
    .at(span, "inline handler")
    .also(synapse, "synapse model given here")
    .help("move the handler into the synapse model, or extend the model")
}

/// `connect` without `rule = …`.
pub fn missing_rule(span: Span) -> Diagnostic {
    Diagnostic::error(
        "nml::missing_rule",
        "this projection has no connection rule",
    )
    .at(span, "which pairs should be connected?")
    .help("add e.g. `rule = fixed_probability(0.1)`, `rule = all_to_all` or `rule = one_to_one`")
}

/// A population or slice size that is not a positive whole number.
pub fn invalid_size(span: Span, value: f64) -> Diagnostic {
    Diagnostic::error(
        "nml::invalid_size",
        format!("a population size must be a positive whole number, but this is {value}"),
    )
    .at(span, "size")
}

/// A slice or index outside its population.
pub fn out_of_range(span: Span, what: &str, size: usize) -> Diagnostic {
    Diagnostic::error(
        "nml::out_of_range",
        format!(
            "{what} is outside the population, which has {size} neurons (0 to {})",
            size.saturating_sub(1)
        ),
    )
    .at(span, "out of range")
}

/// A model parameter left without a value anywhere.
pub fn missing_value(span: Span, name: &str, model: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::missing_value",
        format!("parameter `{name}` of `{model}` has no default and is not set here"),
    )
    .at(span, "population created here")
    .help(format!(
        "set it in the population's block: `{{ {name} = … }}`"
    ))
}

/// A network setting or override the network does not understand.
pub fn unknown_setting(span: Span, name: &str, context: &str, known: &[String]) -> Diagnostic {
    Diagnostic::error(
        "nml::unknown_setting",
        format!("`{name}` is not a setting of {context}"),
    )
    .at(span, "unknown setting")
    .maybe_help(suggest(known))
}

/// Two uses of one projection handler kind.
pub fn projection_handler_twice(span: Span, first: Span, which: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::duplicate_definition",
        format!("this projection has more than one `on {which}` handler"),
    )
    .at(span, "second handler")
    .also(first, "first handler")
}

/// A model item that does not belong in this kind of model.
pub fn misplaced(span: Span, item: &str, place: &str) -> Diagnostic {
    Diagnostic::error("nml::misplaced", format!("{item} cannot appear in {place}"))
        .at(span, "not allowed here")
}

/// A population used where a value is expected, or the other way round.
pub fn not_a_value(span: Span, name: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::not_a_value",
        format!("`{name}` is {what}, not a value"),
    )
    .at(span, "used as a value")
}

/// A synapse equation of second or higher order.
pub fn synapse_ode_order(span: Span) -> Diagnostic {
    Diagnostic::error(
        "nml::synapse_ode_order",
        "synapse equations must be first order",
    )
    .at(span, "higher-order equation")
    .help("introduce an auxiliary state variable for the derivative")
}

/// A quoted string where a value is expected.
pub fn string_value(span: Span) -> Diagnostic {
    Diagnostic::error("nml::string_value", "a quoted string is not a value")
        .at(span, "string")
        .help("strings are only used as file names, as in `rule = from_file(\"connections.csv\")`")
}

/// A connection rule written wrongly.
pub fn connection_rule(span: Span, problem: &str) -> Diagnostic {
    Diagnostic::error("nml::connection_rule", format!("invalid connection rule: {problem}"))
        .at(span, "rule")
        .help("rules: all_to_all, one_to_one, fixed_probability(p), fixed_indegree(K), fixed_outdegree(K), fixed_total(N), probability(EXPR), from_file(\"FILE.csv\"); options autapses = BOOL, multapses = BOOL")
}

/// White noise entering an equation other than linearly.
pub fn noise_nonlinear(span: Span) -> Diagnostic {
    Diagnostic::error(
        "nml::noise_nonlinear",
        "the white-noise term `xi` must enter the equation linearly",
    )
    .at(span, "equation with noise")
    .help("write the equation as `drift + coefficient * xi`, with `xi` not inside a function or a product with itself")
}

/// A per-synapse equation without a closed-form solution.
pub fn synapse_state_not_exact(span: Span, var: &str, reason: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::synapse_state_not_exact",
        format!(
            "the per-synapse variable `{var}` is advanced only when an event reaches the synapse, so its equation must have an exact solution, but {reason}"
        ),
    )
    .at(span, "no closed form between events")
    .help(format!(
        "write it as `{var}' = a * {var} + b` with `a` and `b` made of parameters (e.g. `{var}' = (1 - {var}) / tau`), or move the variable into `post state` (integrated every step)"
    ))
}

/// A construct the compiler accepts but cannot generate code for in this
/// combination yet.
pub fn unsupported_here(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(
        "nml::unsupported",
        format!("{what} is not supported by this version of nmlc yet"),
    )
    .at(span, "not supported yet")
    .help("`nmlc check` accepts this model; running it needs a later version")
}
