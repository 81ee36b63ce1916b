//! Checking synapse models.
//!
//! A synapse is checked once on its own (with `pre.X` and `post.X` of unknown
//! type, so only what does not depend on the neurons is reported) and once
//! for every projection that uses it, bound to the projection's neuron
//! models, when the units of `pre.X`/`post.X` and the output's target are
//! known.

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
    self, ExprKind, Handler, InputKind, NeuronModel, NeuronVar, Ode, Quantity, SynapseModel,
    SynapseOutput, Var,
};
use crate::source::{SourceMap, Span};
use crate::syntax::ast;
use crate::units::Dim;

/// The names of a synapse model.
pub struct SynapseScope<'a, 'n> {
    params: Vec<Declared>,
    args: Vec<Declared>,
    states: Vec<Declared>,
    post_states: Vec<Declared>,
    aliases: AliasTable<'a>,
    pre: Option<&'n NeuronModel>,
    post: Option<&'n NeuronModel>,
    visible_params: usize,
    visible_states: usize,
    dynamic: bool,
    /// Network names visible to an inline synapse.
    outer_values: Vec<(String, model::ExprKind, T)>,
}

impl<'a> HasAliases<'a> for SynapseScope<'a, '_> {
    fn aliases(&mut self) -> &mut AliasTable<'a> {
        &mut self.aliases
    }
}

/// What `field` names in a neuron model.
fn neuron_field(n: &NeuronModel, field: &str) -> Option<(NeuronVar, T, Option<Span>)> {
    if let Some(k) = n.params.iter().position(|p| p.name == field) {
        return Some((
            NeuronVar::Param(k as u32),
            T::Real(n.params[k].dim),
            Some(n.params[k].span),
        ));
    }
    if let Some(k) = n.states.iter().position(|p| p.name == field) {
        return Some((NeuronVar::State(k as u32), T::Real(n.states[k].dim), None));
    }
    if let Some(k) = n.inputs.iter().position(|p| p.name == field) {
        let t = match n.inputs[k].kind {
            InputKind::Continuous(d) | InputKind::Spikes(d) => T::Real(d),
        };
        return Some((NeuronVar::Input(k as u32), t, None));
    }
    if let Some(k) = n.aliases.iter().position(|p| p.name == field) {
        let t = match n.aliases[k].value.ty {
            model::Ty::Real(d) => T::Real(d),
            model::Ty::Bool => T::Bool,
        };
        return Some((NeuronVar::Alias(k as u32), t, None));
    }
    let coord = ["x", "y", "z"].iter().position(|c| *c == field)?;
    Some((NeuronVar::Position(coord as u8), T::Real(Dim::LENGTH), None))
}

fn neuron_names(n: &NeuronModel) -> Vec<&str> {
    n.params
        .iter()
        .map(|p| p.name.as_str())
        .chain(n.states.iter().map(|s| s.name.as_str()))
        .chain(n.inputs.iter().map(|s| s.name.as_str()))
        .chain(n.aliases.iter().map(|s| s.name.as_str()))
        .collect()
}

impl<'a, 'n> SynapseScope<'a, 'n> {
    fn side(&self, cx: &mut ExprChecker, object: &ast::Ident) -> Option<Option<&'n NeuronModel>> {
        match object.name.as_str() {
            "pre" => Some(self.pre),
            "post" => Some(self.post),
            _ => {
                cx.diags.push(
                    catalog::unknown_name(object.span, &object.name, "name", &[])
                        .help("in a synapse, `pre.X` and `post.X` name variables of the connected neurons"),
                );
                None
            }
        }
    }

    fn wrap(object: &ast::Ident, v: NeuronVar) -> Var {
        if object.name == "pre" {
            Var::Pre(v)
        } else {
            Var::Post(v)
        }
    }
}

impl<'a, 'n> Names for SynapseScope<'a, 'n> {
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
        if let Some(k) = self.args.iter().position(|p| p.name == name) {
            return Some(Resolved::Value(
                ExprKind::Var(Var::HandlerArg(k as u32)),
                self.args[k].t,
            ));
        }
        let visible_states = self.visible_states.min(self.states.len());
        if let Some(k) = self.states[..visible_states]
            .iter()
            .position(|s| s.name == name)
        {
            return Some(Resolved::Value(
                ExprKind::Var(Var::State(k as u32)),
                self.states[k].t,
            ));
        }
        let visible_post = self
            .visible_states
            .saturating_sub(self.states.len())
            .min(self.post_states.len());
        if let Some(k) = self.post_states[..visible_post]
            .iter()
            .position(|s| s.name == name)
        {
            return Some(Resolved::Value(
                ExprKind::Var(Var::PostState(k as u32)),
                self.post_states[k].t,
            ));
        }
        if self.dynamic
            && let Some(k) = self.aliases.find(name)
        {
            return Some(resolve_alias(self, cx, k, span));
        }
        if name == "pre" || name == "post" {
            return Some(Resolved::NotAValue(
                "a neuron of the projection (use `pre.X` or `post.X`)",
            ));
        }
        self.outer_values
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, kind, t)| Resolved::Value(kind.clone(), *t))
    }

    fn member(
        &mut self,
        cx: &mut ExprChecker,
        object: &ast::Ident,
        field: &ast::Ident,
    ) -> Option<Resolved> {
        let side = self.side(cx, object)?;
        let Some(neuron) = side else {
            return Some(Resolved::Value(
                ExprKind::Var(Self::wrap(object, NeuronVar::State(u32::MAX))),
                T::Unknown,
            ));
        };
        match neuron_field(neuron, &field.name) {
            Some((NeuronVar::Input(k), _, _))
                if matches!(neuron.inputs[k as usize].kind, InputKind::Spikes(_)) =>
            {
                Some(Resolved::SpikeInput(k))
            }
            Some((v, t, _)) => Some(Resolved::Value(ExprKind::Var(Self::wrap(object, v)), t)),
            None => {
                let candidates = crate::names::did_you_mean(&field.name, neuron_names(neuron));
                cx.diags.push(catalog::unknown_name(
                    field.span,
                    &field.name,
                    &format!("variable of neuron `{}`", neuron.name),
                    &candidates,
                ));
                None
            }
        }
    }

    fn visible(&self) -> Vec<String> {
        let mut v: Vec<String> = self.params.iter().map(|p| p.name.clone()).collect();
        v.extend(self.args.iter().map(|p| p.name.clone()));
        v.extend(self.states.iter().map(|p| p.name.clone()));
        v.extend(self.post_states.iter().map(|p| p.name.clone()));
        v.extend(self.aliases.names().map(String::from));
        v.extend(self.outer_values.iter().map(|(n, _, _)| n.clone()));
        v
    }

    fn assign_target(&mut self, cx: &mut ExprChecker, target: &ast::Target) -> Option<(Var, T)> {
        let name = &target.field.name;
        let Some(object) = &target.object else {
            if let Some(k) = self.states.iter().position(|s| s.name == *name) {
                return Some((Var::State(k as u32), self.states[k].t));
            }
            if let Some(k) = self.post_states.iter().position(|s| s.name == *name) {
                return Some((Var::PostState(k as u32), self.post_states[k].t));
            }
            if let Some(p) = self
                .params
                .iter()
                .chain(&self.args)
                .find(|p| p.name == *name)
            {
                cx.diags
                    .push(catalog::assign_to_parameter(target.span, name, p.span));
                return None;
            }
            if self.aliases.find(name).is_some() {
                cx.diags.push(catalog::assign_to_read_only(
                    target.span,
                    name,
                    "the inline definition",
                ));
                return None;
            }
            let known = self
                .states
                .iter()
                .chain(&self.post_states)
                .map(|s| s.name.as_str());
            let candidates = crate::names::did_you_mean(name, known);
            cx.diags.push(catalog::assign_to_undeclared(
                target.span,
                name,
                &candidates,
            ));
            return None;
        };
        let side = self.side(cx, object)?;
        let Some(neuron) = side else {
            return Some((Self::wrap(object, NeuronVar::State(u32::MAX)), T::Unknown));
        };
        match neuron_field(neuron, name) {
            Some((v @ NeuronVar::State(_), t, _)) => Some((Self::wrap(object, v), t)),
            Some((NeuronVar::Input(k), t, _)) => match neuron.inputs[k as usize].kind {
                InputKind::Spikes(_) => Some((Self::wrap(object, NeuronVar::Input(k)), t)),
                InputKind::Continuous(_) => {
                    cx.diags.push(catalog::input_assignment(target.span, name));
                    None
                }
            },
            Some((NeuronVar::Param(_), _, decl)) => {
                cx.diags.push(catalog::assign_to_parameter(
                    target.span,
                    name,
                    decl.unwrap_or(target.span),
                ));
                None
            }
            Some(_) => {
                cx.diags.push(catalog::assign_to_read_only(
                    target.span,
                    name,
                    "the inline definition or position",
                ));
                None
            }
            None => {
                let candidates = crate::names::did_you_mean(name, neuron_names(neuron));
                cx.diags.push(catalog::unknown_name(
                    target.field.span,
                    name,
                    &format!("variable of neuron `{}`", neuron.name),
                    &candidates,
                ));
                None
            }
        }
    }
}

fn dynamic_flags() -> Flags {
    Flags {
        time: true,
        dt: true,
        ..Flags::default()
    }
}

/// What an inline synapse (handlers written inside `connect`) sees besides
/// its own names.
#[derive(Default)]
pub struct Outer {
    /// Per-synapse values set in the projection (`w = …`): name, dimension, span.
    pub args: Vec<(String, Dim, Span)>,
    /// Network parameters and constants: name, value, type.
    pub values: Vec<(String, model::ExprKind, T)>,
}

/// Checks a synapse model, bound to neuron models if given.
pub fn check_synapse(
    g: &Globals,
    parts: &ModelParts,
    pre: Option<&NeuronModel>,
    post: Option<&NeuronModel>,
    outer: &Outer,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> SynapseModel {
    let fns = &g.functions;
    let arg_params: Vec<&ast::Param> = parts
        .on_pre
        .map(|h| h.params.iter().collect())
        .unwrap_or_default();
    let mut scope = SynapseScope {
        params: Declared::from_decls(&parts.params),
        args: Vec::new(),
        states: Declared::from_decls(&parts.states),
        post_states: Declared::from_decls(&parts.post_states),
        aliases: AliasTable::new(&parts.equations, dynamic_flags()),
        pre,
        post,
        visible_params: 0,
        visible_states: 0,
        dynamic: false,
        outer_values: Vec::new(),
    };
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
    let mut handler_args = Vec::new();
    for p in &arg_params {
        let unit = p
            .unit
            .as_ref()
            .and_then(|u| resolve_unit(u, diags).map(|x| (u, x)));
        let dim = unit.map(|(_, x)| x.dim).unwrap_or(Dim::ONE);
        if let Some(first) = scope
            .params
            .iter()
            .chain(&scope.args)
            .find(|x| x.name == p.name.name)
        {
            diags.push(catalog::duplicate_definition(
                p.name.span,
                first.span,
                &p.name.name,
                "name",
            ));
        }
        scope.args.push(Declared {
            name: p.name.name.clone(),
            t: T::Real(dim),
            span: p.name.span,
        });
        handler_args.push(Quantity {
            name: p.name.name.clone(),
            dim,
            unit: unit.map(|(u, x)| display_unit(u, x, sources)),
            value: None,
            doc: None,
            span: p.name.span,
        });
    }
    scope.outer_values = outer.values.clone();
    for (name, dim, span) in &outer.args {
        scope.args.push(Declared {
            name: name.clone(),
            t: T::Real(*dim),
            span: *span,
        });
        handler_args.push(Quantity {
            name: name.clone(),
            dim: *dim,
            unit: None,
            value: None,
            doc: None,
            span: *span,
        });
    }
    let mut states = Vec::new();
    let all_states: Vec<&ast::Decl> = parts
        .states
        .iter()
        .chain(&parts.post_states)
        .copied()
        .collect();
    for (k, d) in all_states.iter().enumerate() {
        scope.visible_states = k;
        let what = if k < parts.states.len() {
            "synapse state"
        } else {
            "post state"
        };
        let (q, t) = check_decl(fns, &mut scope, d, sources, diags, Flags::default(), what);
        if k < parts.states.len() {
            scope.states[k].t = t;
        } else {
            scope.post_states[k - parts.states.len()].t = t;
        }
        states.push(q);
    }
    scope.visible_states = all_states.len();
    let post_states = states.split_off(parts.states.len());
    check_clashes(&scope, parts, diags);
    scope.dynamic = true;

    let mut odes = Vec::new();
    let mut seen: Vec<(String, Span)> = Vec::new();
    for e in &parts.equations {
        match e {
            ast::Equation::Ode {
                var,
                order,
                rhs,
                span,
            } => {
                let index = scope
                    .states
                    .iter()
                    .position(|s| s.name == var.name)
                    .or_else(|| {
                        scope
                            .post_states
                            .iter()
                            .position(|s| s.name == var.name)
                            .map(|k| k + scope.states.len())
                    });
                if *order != 1 {
                    diags.push(catalog::synapse_ode_order(*span));
                    continue;
                }
                let mut cx = ExprChecker::new(fns, diags, dynamic_flags());
                let c = cx.check(&mut scope, rhs);
                let Some(index) = index else {
                    let what = if scope
                        .params
                        .iter()
                        .chain(&scope.args)
                        .any(|p| p.name == var.name)
                    {
                        Some("a parameter")
                    } else {
                        None
                    };
                    match what {
                        Some(w) => diags.push(catalog::ode_target(var.span, &var.name, w)),
                        None => {
                            let known = scope
                                .states
                                .iter()
                                .chain(&scope.post_states)
                                .map(|s| s.name.as_str());
                            let candidates = crate::names::did_you_mean(&var.name, known);
                            diags.push(catalog::unknown_name(
                                var.span,
                                &var.name,
                                "state variable",
                                &candidates,
                            ));
                        }
                    }
                    continue;
                };
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == var.name) {
                    diags.push(catalog::duplicate_equation(*span, *first, &var.name));
                }
                seen.push((var.name.clone(), *span));
                let declared = if index < scope.states.len() {
                    &scope.states[index]
                } else {
                    &scope.post_states[index - scope.states.len()]
                };
                if let (T::Real(var_dim), T::Real(found)) = (declared.t, c.t)
                    && found != var_dim.div(Dim::TIME)
                {
                    diags.push(catalog::derivative_unit(
                        rhs.span,
                        &var.name,
                        var_dim,
                        found,
                        declared.span,
                    ));
                }
                odes.push(Ode {
                    state: index as u32,
                    rhs: c.expr,
                    stochastic: false,
                    span: *span,
                });
            }
            ast::Equation::Kernel { span, .. } => {
                diags.push(catalog::misplaced(*span, "a kernel", "a synapse").help(
                    "kernels belong to neurons (`convolve(kernel, spike_input)`); in a synapse write the kernel's ODE for a `post state` variable",
                ));
            }
            ast::Equation::Alias { .. } => {}
        }
    }
    check_all_aliases(&mut scope, fns, diags);
    // Per-synapse state is advanced only when an event reaches the synapse,
    // over the whole interval since the last one: that needs a closed form.
    for ode in &odes {
        if (ode.state as usize) < scope.states.len()
            && let Err(reason) = exactly_solvable(&ode.rhs, ode.state, &scope.aliases.done)
        {
            diags.push(catalog::synapse_state_not_exact(
                ode.span,
                &scope.states[ode.state as usize].name,
                &reason,
            ));
        }
    }

    let handler =
        |scope: &mut SynapseScope, body: &[ast::Stmt], span: Span, diags: &mut Diagnostics| {
            let flags = Flags {
                random: true,
                ..dynamic_flags()
            };
            let mut cx = ExprChecker::new(fns, diags, flags);
            let body = check_block(&mut cx, scope, body);
            Handler {
                body,
                locals: cx.local_slots,
                span,
            }
        };
    let on_pre = parts
        .on_pre
        .map(|h| handler(&mut scope, &h.body, h.span, diags));
    let on_post = parts
        .on_post
        .map(|h| handler(&mut scope, &h.body, h.span, diags));

    let mut outputs = Vec::new();
    for o in &parts.outputs {
        let mut cx = ExprChecker::new(fns, diags, dynamic_flags());
        let c = cx.expect_number(&mut scope, &o.value);
        let mut input = None;
        if let Some(n) = post {
            match n.inputs.iter().position(|i| i.name == o.target.name) {
                Some(k) => match n.inputs[k].kind {
                    InputKind::Continuous(d) => {
                        input = Some(k as u32);
                        if let T::Real(found) = c.t
                            && found != d
                        {
                            diags.push(catalog::unit_expected(
                                o.value.span,
                                &format!("the output into `{}.{}`", n.name, o.target.name),
                                d,
                                found,
                                Some(n.inputs[k].span),
                            ));
                        }
                    }
                    InputKind::Spikes(_) => diags.push(catalog::output_target(o.target.span, &o.target.name, &n.name, &[])
                        .help("a spike input receives events (`post.X += w` in `on pre`), not a continuous output")),
                },
                None => {
                    let candidates = crate::names::did_you_mean(
                        &o.target.name,
                        n.inputs.iter().filter(|i| matches!(i.kind, InputKind::Continuous(_))).map(|i| i.name.as_str()),
                    );
                    diags.push(catalog::output_target(o.target.span, &o.target.name, &n.name, &candidates));
                }
            }
        }
        outputs.push(SynapseOutput {
            input_name: o.target.name.clone(),
            input,
            value: c.expr,
            span: o.span,
        });
    }
    let solver = parts.solver.and_then(|s| check_solver(s, fns, diags));
    SynapseModel {
        name: parts.model.name.name.clone(),
        doc: parts.model.doc.clone(),
        params,
        handler_args,
        states,
        post_states,
        aliases: std::mem::take(&mut scope.aliases.done),
        odes,
        on_pre,
        on_post,
        outputs,
        solver,
        bound: pre.is_some() && post.is_some(),
        span: parts.model.span,
    }
}

fn check_clashes(scope: &SynapseScope, parts: &ModelParts, diags: &mut Diagnostics) {
    let mut seen: Vec<(&str, Span)> = Vec::new();
    let alias_names: Vec<(&str, Span)> = parts
        .equations
        .iter()
        .filter_map(|e| match e {
            ast::Equation::Alias { name, .. } => Some((name.name.as_str(), name.span)),
            _ => None,
        })
        .collect();
    let all = scope
        .params
        .iter()
        .chain(&scope.states)
        .chain(&scope.post_states)
        .map(|d| (d.name.as_str(), d.span))
        .chain(alias_names);
    for (name, span) in all {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            diags.push(catalog::duplicate_definition(span, *first, name, "name"));
        } else {
            seen.push((name, span));
        }
    }
}

/// Whether `x' = rhs` has a closed-form solution over any interval: linear
/// in `x` with coefficients made of parameters and constants only (the form
/// `x' = a·x + b`, solved as `x(t+Δ) = -b/a + (x + b/a)·e^{aΔ}`).
fn exactly_solvable(rhs: &model::Expr, own: u32, aliases: &[model::Alias]) -> Result<(), String> {
    fn reads_own(e: &model::Expr, own: u32, aliases: &[model::Alias]) -> bool {
        match &e.kind {
            ExprKind::Var(Var::State(k)) => *k == own,
            ExprKind::Var(Var::Alias(k)) => aliases
                .get(*k as usize)
                .is_some_and(|a| reads_own(&a.value, own, aliases)),
            ExprKind::Unary(_, x) => reads_own(x, own, aliases),
            ExprKind::Binary(_, a, b) => reads_own(a, own, aliases) || reads_own(b, own, aliases),
            ExprKind::If(c, a, b) => {
                reads_own(c, own, aliases)
                    || reads_own(a, own, aliases)
                    || reads_own(b, own, aliases)
            }
            ExprKind::Math(_, xs) => xs.iter().any(|x| reads_own(x, own, aliases)),
            _ => false,
        }
    }
    fn check(e: &model::Expr, own: u32, aliases: &[model::Alias]) -> Result<(), String> {
        match &e.kind {
            ExprKind::Const(_) | ExprKind::Var(Var::Param(_) | Var::HandlerArg(_)) => Ok(()),
            ExprKind::Var(Var::State(k)) if *k == own => Ok(()),
            ExprKind::Var(Var::Alias(k)) => match aliases.get(*k as usize) {
                Some(a) => check(&a.value, own, aliases),
                None => Ok(()),
            },
            ExprKind::Var(Var::State(_)) => {
                Err("it depends on another per-synapse variable".into())
            }
            ExprKind::Var(Var::PostState(_)) => Err("it depends on the post state".into()),
            ExprKind::Var(Var::Pre(_) | Var::Post(_)) => {
                Err("it depends on a neuron's variables, which change between events".into())
            }
            ExprKind::Builtin(_) => Err("it depends on time".into()),
            ExprKind::Random(_) => Err("it draws random numbers".into()),
            ExprKind::Unary(_, x) => check(x, own, aliases),
            ExprKind::Binary(op, a, b) => {
                check(a, own, aliases)?;
                check(b, own, aliases)?;
                let (ra, rb) = (reads_own(a, own, aliases), reads_own(b, own, aliases));
                match op {
                    model::BinaryOp::Add | model::BinaryOp::Sub => Ok(()),
                    model::BinaryOp::Mul if !(ra && rb) => Ok(()),
                    model::BinaryOp::Div if !rb => Ok(()),
                    _ if !(ra || rb) => Ok(()),
                    _ => Err("it is not linear in the variable".into()),
                }
            }
            ExprKind::Math(_, xs) | ExprKind::Distribution(_, xs) | ExprKind::List(xs) => {
                if xs.iter().any(|x| reads_own(x, own, aliases)) {
                    Err("the variable appears inside a function".into())
                } else {
                    xs.iter().try_for_each(|x| check(x, own, aliases))
                }
            }
            ExprKind::If(..) => Err("it contains a condition".into()),
            _ => Ok(()),
        }
    }
    check(rhs, own, aliases)
}
