//! Checking neuron models.

use super::Globals;
use super::expr::{ExprChecker, Flags, Names, Resolved, T};
use super::flatten::ModelParts;
use super::scope::{
    AliasTable, Declared, HasAliases, check_all_aliases, check_decl, check_solver, resolve_alias,
};
use super::stmt::check_block;
use super::units::{display_unit, resolve_unit};
use crate::diagnostics::{Diagnostics, catalog};
use crate::model::{
    self, Convolution, Event, ExprKind, Input, InputKind, NeuronModel, Ode, Quantity, Refractory,
    RefractoryPeriod, SpikeRule, Var,
};
use crate::source::{SourceMap, Span};
use crate::syntax::ast;
use crate::units::Dim;

/// A neuron's input as the scope sees it.
#[derive(Clone, Debug)]
struct InputSlot {
    name: String,
    kind: Option<InputKind>,
    span: Span,
}

/// The names of a neuron model.
pub struct NeuronScope<'a> {
    params: Vec<Declared>,
    states: Vec<Declared>,
    inputs: Vec<InputSlot>,
    kernels: Vec<Declared>,
    convolutions: Vec<Convolution>,
    aliases: AliasTable<'a>,
    /// Only this many parameters are visible (while checking defaults).
    visible_params: usize,
    /// Only this many states are visible (while checking initial values).
    visible_states: usize,
    /// Whether inputs, inline definitions and kernels are visible.
    dynamic: bool,
}

impl<'a> HasAliases<'a> for NeuronScope<'a> {
    fn aliases(&mut self) -> &mut AliasTable<'a> {
        &mut self.aliases
    }
}

impl<'a> Names for NeuronScope<'a> {
    fn resolve(&mut self, cx: &mut ExprChecker, name: &str, span: Span) -> Option<Resolved> {
        if let Some(k) = self.params[..self.visible_params]
            .iter()
            .position(|p| p.name == name)
        {
            return Some(Resolved::Value(
                ExprKind::Var(Var::Param(k as u32)),
                self.params[k].t,
            ));
        }
        if let Some(k) = self.states[..self.visible_states]
            .iter()
            .position(|s| s.name == name)
        {
            return Some(Resolved::Value(
                ExprKind::Var(Var::State(k as u32)),
                self.states[k].t,
            ));
        }
        if !self.dynamic {
            return None;
        }
        if let Some(k) = self.inputs.iter().position(|i| i.name == name) {
            return Some(match self.inputs[k].kind {
                Some(InputKind::Continuous(d)) => {
                    Resolved::Value(ExprKind::Var(Var::Input(k as u32)), T::Real(d))
                }
                Some(InputKind::Spikes(_)) => Resolved::SpikeInput(k as u32),
                None => Resolved::Value(ExprKind::Var(Var::Input(k as u32)), T::Unknown),
            });
        }
        if let Some(k) = self.kernels.iter().position(|x| x.name == name) {
            return Some(Resolved::Kernel(k as u32));
        }
        if let Some(k) = self.aliases.find(name) {
            return Some(resolve_alias(self, cx, k, span));
        }
        None
    }

    fn member(
        &mut self,
        cx: &mut ExprChecker,
        object: &ast::Ident,
        _: &ast::Ident,
    ) -> Option<Resolved> {
        cx.diags
            .push(catalog::pre_post_outside_synapse(object.span, &object.name));
        None
    }

    fn visible(&self) -> Vec<String> {
        let mut v: Vec<String> = self.params[..self.visible_params]
            .iter()
            .map(|p| p.name.clone())
            .collect();
        v.extend(
            self.states[..self.visible_states]
                .iter()
                .map(|s| s.name.clone()),
        );
        if self.dynamic {
            v.extend(self.inputs.iter().map(|i| i.name.clone()));
            v.extend(self.kernels.iter().map(|k| k.name.clone()));
            v.extend(self.aliases.names().map(String::from));
        }
        v
    }

    fn assign_target(&mut self, cx: &mut ExprChecker, target: &ast::Target) -> Option<(Var, T)> {
        if let Some(object) = &target.object {
            cx.diags
                .push(catalog::pre_post_outside_synapse(object.span, &object.name));
            return None;
        }
        let name = &target.field.name;
        if let Some(k) = self.states.iter().position(|s| s.name == *name) {
            return Some((Var::State(k as u32), self.states[k].t));
        }
        if let Some(p) = self.params.iter().find(|p| p.name == *name) {
            cx.diags
                .push(catalog::assign_to_parameter(target.span, name, p.span));
            return None;
        }
        if self.inputs.iter().any(|i| i.name == *name) {
            cx.diags
                .push(catalog::assign_to_read_only(target.span, name, "the input"));
            return None;
        }
        if self.aliases.find(name).is_some() {
            cx.diags.push(
                catalog::assign_to_read_only(target.span, name, "the inline definition").help(
                    "inline definitions are recomputed from the state whenever they are used",
                ),
            );
            return None;
        }
        let candidates =
            crate::names::did_you_mean(name, self.states.iter().map(|s| s.name.as_str()));
        cx.diags.push(catalog::assign_to_undeclared(
            target.span,
            name,
            &candidates,
        ));
        None
    }

    fn convolution(&mut self, kernel: u32, input: u32) -> Option<(u32, T)> {
        let weight = match self.inputs[input as usize].kind {
            Some(InputKind::Spikes(d)) => d,
            _ => return None,
        };
        let t = match self.kernels[kernel as usize].t {
            T::Real(d) => T::Real(d.mul(weight)),
            _ => T::Unknown,
        };
        let index = match self
            .convolutions
            .iter()
            .position(|c| c.kernel == kernel && c.input == input)
        {
            Some(i) => i,
            None => {
                self.convolutions.push(Convolution { kernel, input });
                self.convolutions.len() - 1
            }
        };
        Some((index as u32, t))
    }
}

/// Places in a neuron and what each allows.
fn flags_dynamic() -> Flags {
    Flags {
        convolve: true,
        time: true,
        dt: true,
        ..Flags::default()
    }
}

/// Checks one neuron model.
pub fn check_neuron(
    g: &Globals,
    parts: &ModelParts,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> NeuronModel {
    let fns = &g.functions;
    let mut scope = NeuronScope {
        params: Declared::from_decls(&parts.params),
        states: Declared::from_decls(&parts.states),
        inputs: Vec::new(),
        kernels: Vec::new(),
        convolutions: Vec::new(),
        aliases: AliasTable::new(&parts.equations, flags_dynamic()),
        visible_params: 0,
        visible_states: 0,
        dynamic: false,
    };

    // Parameters: defaults may use earlier parameters.
    let mut params = Vec::new();
    for (k, d) in parts.params.iter().enumerate() {
        scope.visible_params = k;
        let (q, t) = check_decl(
            fns,
            &mut scope,
            d,
            sources,
            diags,
            Flags::default(),
            "parameter",
        );
        scope.params[k].t = t;
        params.push(q);
    }
    scope.visible_params = params.len();

    // State: initial values may use parameters and earlier state.
    let mut states = Vec::new();
    for (k, d) in parts.states.iter().enumerate() {
        scope.visible_states = k;
        let (q, t) = check_decl(
            fns,
            &mut scope,
            d,
            sources,
            diags,
            Flags::default(),
            "state variable",
        );
        scope.states[k].t = t;
        states.push(q);
    }
    scope.visible_states = states.len();

    // Inputs.
    let mut inputs = Vec::new();
    for i in &parts.inputs {
        let (kind, unit) = match &i.kind {
            ast::InputKind::Continuous(u) => {
                let unit = resolve_unit(u, diags);
                (
                    unit.map(|x| InputKind::Continuous(x.dim)),
                    unit.map(|x| display_unit(u, x, sources)),
                )
            }
            ast::InputKind::Spikes(u) => match u {
                Some(u) => {
                    let unit = resolve_unit(u, diags);
                    (
                        unit.map(|x| InputKind::Spikes(x.dim)),
                        unit.map(|x| display_unit(u, x, sources)),
                    )
                }
                None => (Some(InputKind::Spikes(Dim::ONE)), None),
            },
        };
        scope.inputs.push(InputSlot {
            name: i.name.name.clone(),
            kind,
            span: i.name.span,
        });
        inputs.push(Input {
            name: i.name.name.clone(),
            kind: kind.unwrap_or(InputKind::Continuous(Dim::ONE)),
            unit,
            doc: i.doc.clone(),
            span: i.span,
        });
    }
    check_name_clashes(&scope, parts, diags);

    // Kernels.
    let kernel_defs: Vec<&ast::Equation> = parts
        .equations
        .iter()
        .copied()
        .filter(|e| matches!(e, ast::Equation::Kernel { .. }))
        .collect();
    let mut kernels = Vec::new();
    let forbidden: Vec<String> = scope
        .states
        .iter()
        .map(|s| s.name.clone())
        .chain(scope.inputs.iter().map(|i| i.name.clone()))
        .collect();
    for e in &kernel_defs {
        let k = super::kernel::check_kernel(fns, &scope.params, &forbidden, e, diags);
        scope.kernels.push(Declared {
            name: k.name.clone(),
            t: if k.dim_known {
                T::Real(k.kernel.dim)
            } else {
                T::Unknown
            },
            span: k.kernel.span,
        });
        kernels.push(k.kernel);
    }
    scope.dynamic = true;

    // ODEs.
    let mut odes: Vec<Ode> = Vec::new();
    let mut ode_spans: Vec<(String, Span)> = Vec::new();
    for e in &parts.equations {
        let ast::Equation::Ode {
            var,
            order,
            rhs,
            span,
        } = e
        else {
            continue;
        };
        let order = (*order).max(1);
        let Some(base) = scope.states.iter().position(|s| s.name == var.name) else {
            let kind = describe_non_state(&scope, &var.name);
            match kind {
                Some(kind) => diags.push(catalog::ode_target(var.span, &var.name, kind)),
                None => {
                    let candidates = crate::names::did_you_mean(
                        &var.name,
                        scope.states.iter().map(|s| s.name.as_str()),
                    );
                    diags.push(
                        catalog::unknown_name(var.span, &var.name, "state variable", &candidates)
                            .help(format!(
                                "declare it: `state {{ {}: UNIT = INITIAL }}`",
                                var.name
                            )),
                    );
                }
            }
            let mut cx = ExprChecker::new(fns, diags, ode_flags());
            cx.check(&mut scope, rhs);
            continue;
        };
        // x^(n) = f is x' = x', x'' = x'', …, x^(n-1)' = f.
        let base_t = scope.states[base].t;
        for k in 1..order {
            let lower = format!("{}{}", var.name, "'".repeat(k as usize - 1));
            let higher = format!("{}{}", var.name, "'".repeat(k as usize));
            let lower_index = scope
                .states
                .iter()
                .position(|s| s.name == lower)
                .expect("created in order");
            let higher_index = match scope.states.iter().position(|s| s.name == higher) {
                Some(i) => i,
                None => {
                    let dim = base_t
                        .dim()
                        .map(|d| d.div(Dim::TIME.pow(k as i32, 1).expect("integer power")));
                    let t = dim.map(T::Real).unwrap_or(T::Unknown);
                    scope.states.push(Declared {
                        name: higher.clone(),
                        t,
                        span: var.span,
                    });
                    states.push(Quantity {
                        name: higher.clone(),
                        dim: dim.unwrap_or(Dim::ONE),
                        unit: None,
                        value: None,
                        doc: Some(format!(
                            "derivative of `{lower}`, created for the equation of `{}`",
                            var.name
                        )),
                        span: var.span,
                    });
                    scope.visible_states = scope.states.len();
                    scope.states.len() - 1
                }
            };
            if let Some((_, first)) = ode_spans.iter().find(|(n, _)| *n == lower) {
                diags.push(catalog::duplicate_equation(*span, *first, &lower));
            }
            ode_spans.push((lower.clone(), *span));
            odes.push(Ode {
                state: lower_index as u32,
                rhs: model::Expr {
                    kind: ExprKind::Var(Var::State(higher_index as u32)),
                    ty: scope.states[higher_index].t.ty(),
                    span: var.span,
                },
                stochastic: false,
                span: *span,
            });
        }
        let top_name = format!("{}{}", var.name, "'".repeat(order as usize - 1));
        let top = scope
            .states
            .iter()
            .position(|s| s.name == top_name)
            .expect("created above");
        if let Some((_, first)) = ode_spans.iter().find(|(n, _)| *n == top_name) {
            diags.push(catalog::duplicate_equation(*span, *first, &top_name));
        }
        ode_spans.push((top_name.clone(), *span));
        let mut cx = ExprChecker::new(fns, diags, ode_flags());
        let c = cx.check(&mut scope, rhs);
        let stochastic = cx.used_noise;
        if let (T::Real(var_dim), T::Real(found)) = (scope.states[top].t, c.t)
            && found != var_dim.div(Dim::TIME)
        {
            diags.push(catalog::derivative_unit(
                rhs.span,
                &top_name,
                var_dim,
                found,
                scope.states[top].span,
            ));
        }
        if c.t == T::Bool {
            diags.push(catalog::not_numeric(rhs.span));
        }
        odes.push(Ode {
            state: top as u32,
            rhs: c.expr,
            stochastic,
            span: *span,
        });
    }

    check_all_aliases(&mut scope, fns, diags);

    // Spike rule.
    let spike = parts.spike.map(|s| {
        let mut cx = ExprChecker::new(fns, diags, handler_flags());
        let condition = cx.expect_bool(&mut scope, &s.condition);
        let reset = check_block(&mut cx, &mut scope, &s.reset);
        SpikeRule {
            condition: condition.expr,
            reset,
            locals: cx.local_slots,
            span: s.span,
        }
    });

    // Refractoriness.
    let refractory = parts.refractory.map(|r| {
        if spike.is_none() {
            diags.push(catalog::refractory_without_spike(r.span));
        }
        let period = match &r.period {
            ast::RefractoryPeriod::Duration(e) => {
                let mut cx = ExprChecker::new(fns, diags, Flags::default());
                let saved = std::mem::replace(&mut scope.dynamic, false);
                let c = cx.expect_dim(&mut scope, e, Dim::TIME, "the refractory period", None);
                scope.dynamic = saved;
                RefractoryPeriod::Duration(c.expr)
            }
            ast::RefractoryPeriod::When(e) => {
                let mut cx = ExprChecker::new(fns, diags, handler_flags());
                RefractoryPeriod::When(cx.expect_bool(&mut scope, e).expr)
            }
        };
        let clamp = match &r.clamp {
            Some(names) => names
                .iter()
                .filter_map(
                    |n| match scope.states.iter().position(|s| s.name == n.name) {
                        Some(k) => Some(k as u32),
                        None => {
                            let candidates = crate::names::did_you_mean(
                                &n.name,
                                scope.states.iter().map(|s| s.name.as_str()),
                            );
                            diags.push(catalog::unknown_name(
                                n.span,
                                &n.name,
                                "state variable",
                                &candidates,
                            ));
                            None
                        }
                    },
                )
                .collect(),
            None => match (&spike, &r.period) {
                (Some(s), ast::RefractoryPeriod::Duration(_)) => {
                    let mut found = Vec::new();
                    states_in(&s.condition, &scope.aliases.done, &mut found);
                    found
                }
                _ => Vec::new(),
            },
        };
        Refractory {
            period,
            clamp,
            span: r.span,
        }
    });

    // Other conditions.
    let events = parts
        .events
        .iter()
        .map(|o| {
            let mut cx = ExprChecker::new(fns, diags, handler_flags());
            let condition = cx.expect_bool(&mut scope, &o.condition);
            let body = check_block(&mut cx, &mut scope, &o.body);
            Event {
                condition: condition.expr,
                body,
                locals: cx.local_slots,
                span: o.span,
            }
        })
        .collect();

    let solver = parts.solver.and_then(|s| check_solver(s, fns, diags));
    NeuronModel {
        name: parts.model.name.name.clone(),
        extends: parts.model.extends.as_ref().map(|e| e.name.clone()),
        doc: parts.model.doc.clone(),
        params,
        states,
        inputs,
        aliases: std::mem::take(&mut scope.aliases.done),
        odes,
        kernels,
        convolutions: scope.convolutions,
        spike,
        refractory,
        events,
        solver,
        span: parts.model.span,
    }
}

fn ode_flags() -> Flags {
    Flags {
        noise: true,
        random: true,
        ..flags_dynamic()
    }
}

fn handler_flags() -> Flags {
    Flags {
        random: true,
        ..flags_dynamic()
    }
}

fn describe_non_state(scope: &NeuronScope, name: &str) -> Option<&'static str> {
    if scope.params.iter().any(|p| p.name == name) {
        Some("a parameter")
    } else if scope.inputs.iter().any(|i| i.name == name) {
        Some("an input")
    } else if scope.aliases.find(name).is_some() {
        Some("an inline definition")
    } else if scope.kernels.iter().any(|k| k.name == name) {
        Some("a kernel")
    } else {
        None
    }
}

/// Reports names declared twice across parameters, state, inputs, inline
/// definitions and kernels.
fn check_name_clashes(scope: &NeuronScope, parts: &ModelParts, diags: &mut Diagnostics) {
    let mut seen: Vec<(String, Span)> = Vec::new();
    let mut all: Vec<(String, Span)> = Vec::new();
    all.extend(scope.params.iter().map(|p| (p.name.clone(), p.span)));
    all.extend(scope.states.iter().map(|p| (p.name.clone(), p.span)));
    all.extend(scope.inputs.iter().map(|p| (p.name.clone(), p.span)));
    for e in &parts.equations {
        match e {
            ast::Equation::Alias { name, .. } | ast::Equation::Kernel { name, .. } => {
                all.push((name.name.clone(), name.span))
            }
            ast::Equation::Ode { .. } => {}
        }
    }
    for (name, span) in all {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            diags.push(catalog::duplicate_definition(span, *first, &name, "name"));
        } else {
            seen.push((name, span));
        }
    }
}

/// State variables an expression reads, directly or through inline definitions.
fn states_in(e: &model::Expr, aliases: &[model::Alias], out: &mut Vec<u32>) {
    match &e.kind {
        ExprKind::Var(Var::State(k)) if !out.contains(k) => out.push(*k),
        ExprKind::Var(Var::Alias(k)) => {
            if let Some(a) = aliases.get(*k as usize) {
                states_in(&a.value, aliases, out);
            }
        }
        ExprKind::Unary(_, x) => states_in(x, aliases, out),
        ExprKind::Binary(_, a, b) => {
            states_in(a, aliases, out);
            states_in(b, aliases, out);
        }
        ExprKind::If(c, a, b) => {
            states_in(c, aliases, out);
            states_in(a, aliases, out);
            states_in(b, aliases, out);
        }
        ExprKind::Math(_, xs) => xs.iter().for_each(|x| states_in(x, aliases, out)),
        _ => {}
    }
}
