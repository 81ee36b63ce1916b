//! Checking networks: parameters, run settings, populations, slices,
//! projections and recorders.

use super::Globals;
use super::eval::eval_constant;
use super::expr::{Checked, ExprChecker, Flags, Names, Resolved, T};
use super::flatten::ModelParts;
use super::scope::{Declared, check_decl, check_solver};
use crate::diagnostics::{Diagnostics, catalog};
use crate::model::{
    self, ConnectionRule, NeuronModel, NeuronVar, Population, PopulationKind, Program, Projection,
    RecordKind, Recorder, Selection, Var,
};
use crate::source::{SourceMap, Span};
use crate::syntax::ast::{self, ModelKind};
use crate::units::Dim;
use std::collections::HashMap;

/// What a name in a network stands for.
#[derive(Clone, Debug)]
enum Entry {
    Param(u32),
    Constant(usize),
    Population(u32),
    Slice(usize),
}

enum ConstState {
    Todo,
    InProgress,
    Done(Checked),
}

/// The names of a network.
struct NetworkScope<'a> {
    entries: HashMap<String, (Entry, Span)>,
    params: Vec<Declared>,
    visible_params: usize,
    constants: Vec<(&'a ast::Ident, &'a ast::Expr)>,
    constant_state: Vec<ConstState>,
    /// Whether `pre.x` … (positions) are visible: inside projections.
    positions: bool,
}

impl<'a> Names for NetworkScope<'a> {
    fn resolve(&mut self, cx: &mut ExprChecker, name: &str, span: Span) -> Option<Resolved> {
        let (entry, _) = self.entries.get(name)?.clone();
        match entry {
            Entry::Param(k) if (k as usize) < self.visible_params => Some(Resolved::Value(
                model::ExprKind::Var(Var::NetworkParam(k)),
                self.params[k as usize].t,
            )),
            Entry::Param(_) => None,
            Entry::Constant(k) => Some(self.constant(cx, k, span)),
            Entry::Population(_) | Entry::Slice(_) => Some(Resolved::NotAValue("a population")),
        }
    }

    fn member(
        &mut self,
        cx: &mut ExprChecker,
        object: &ast::Ident,
        field: &ast::Ident,
    ) -> Option<Resolved> {
        if !self.positions || !(object.name == "pre" || object.name == "post") {
            cx.diags.push(
                catalog::unknown_name(
                    object.span,
                    &format!("{}.{}", object.name, field.name),
                    "name",
                    &[],
                )
                .help("`pre.x`, `post.y`, … (neuron positions) are available in projections only"),
            );
            return None;
        }
        let Some(k) = ["x", "y", "z"].iter().position(|c| *c == field.name) else {
            cx.diags.push(
                catalog::unknown_name(field.span, &field.name, "position coordinate", &[]).help(
                    "in a projection `pre.` and `post.` give neuron positions: `x`, `y` or `z`",
                ),
            );
            return None;
        };
        let v = NeuronVar::Position(k as u8);
        let var = if object.name == "pre" {
            Var::Pre(v)
        } else {
            Var::Post(v)
        };
        Some(Resolved::Value(
            model::ExprKind::Var(var),
            T::Real(Dim::LENGTH),
        ))
    }

    fn visible(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }
}

impl<'a> NetworkScope<'a> {
    /// A derived constant, checked on first use and inlined.
    fn constant(&mut self, cx: &mut ExprChecker, k: usize, span: Span) -> Resolved {
        match &self.constant_state[k] {
            ConstState::Done(c) => Resolved::Value(c.expr.kind.clone(), c.t),
            ConstState::InProgress => {
                cx.diags.push(catalog::cyclic_definition(
                    span,
                    &[self.constants[k].0.name.clone()],
                ));
                Resolved::Value(model::ExprKind::Const(0.0), T::Unknown)
            }
            ConstState::Todo => {
                self.constant_state[k] = ConstState::InProgress;
                let value = self.constants[k].1;
                let mut inner = ExprChecker::new(cx.functions, cx.diags, Flags::default());
                let c = inner.expect_number(self, value);
                let r = Resolved::Value(c.expr.kind.clone(), c.t);
                self.constant_state[k] = ConstState::Done(c);
                r
            }
        }
    }

    /// Network parameters and constants as values, for inline synapses.
    fn outer_values(
        &mut self,
        fns: &super::functions::FunctionTable,
        diags: &mut Diagnostics,
    ) -> Vec<(String, model::ExprKind, T)> {
        let names: Vec<(String, Entry)> = self
            .entries
            .iter()
            .map(|(n, (e, _))| (n.clone(), e.clone()))
            .collect();
        let mut out = Vec::new();
        for (name, entry) in names {
            match entry {
                Entry::Param(k) => out.push((
                    name,
                    model::ExprKind::Var(Var::NetworkParam(k)),
                    self.params[k as usize].t,
                )),
                Entry::Constant(k) => {
                    let mut cx = ExprChecker::new(fns, diags, Flags::default());
                    let span = self.constants[k].0.span;
                    if let Resolved::Value(kind, t) = self.constant(&mut cx, k, span) {
                        out.push((name, kind, t));
                    }
                }
                _ => {}
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn param_values(&self, params: &[model::Quantity]) -> Vec<f64> {
        params
            .iter()
            .map(|p| {
                p.value
                    .as_ref()
                    .and_then(|v| eval_constant(v, &[]))
                    .unwrap_or(f64::NAN)
            })
            .collect()
    }
}

const SETTINGS: [&str; 4] = ["dt", "duration", "seed", "solver"];

/// Checks a network.
pub fn check_network(
    g: &Globals,
    program: &Program,
    n: &ast::Network,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> model::Network {
    let fns = &g.functions;
    let mut scope = NetworkScope {
        entries: HashMap::new(),
        params: Vec::new(),
        visible_params: 0,
        constants: Vec::new(),
        constant_state: Vec::new(),
        positions: false,
    };
    let mut net = model::Network {
        name: n.name.name.clone(),
        doc: n.doc.clone(),
        params: Vec::new(),
        dt: None,
        duration: None,
        seed: None,
        solver: None,
        populations: Vec::new(),
        projections: Vec::new(),
        records: Vec::new(),
        span: n.span,
    };

    // Pass 1: declare every name.
    let declare =
        |scope: &mut NetworkScope, name: &ast::Ident, entry: Entry, diags: &mut Diagnostics| {
            if let Some((_, first)) = scope.entries.get(&name.name) {
                diags.push(catalog::duplicate_definition(
                    name.span, *first, &name.name, "name",
                ));
            } else {
                scope.entries.insert(name.name.clone(), (entry, name.span));
            }
        };
    let mut param_decls: Vec<&ast::Decl> = Vec::new();
    let mut population_items = Vec::new();
    let mut slice_items = Vec::new();
    let mut settings: HashMap<&str, (&ast::Expr, Span)> = HashMap::new();
    for item in &n.items {
        match item {
            ast::NetworkItem::Parameters(decls, _) => {
                for d in decls {
                    declare(
                        &mut scope,
                        &d.name,
                        Entry::Param(param_decls.len() as u32),
                        diags,
                    );
                    scope.params.push(Declared {
                        name: d.name.name.clone(),
                        t: T::Unknown,
                        span: d.name.span,
                    });
                    param_decls.push(d);
                }
            }
            ast::NetworkItem::Assign {
                name,
                value,
                overrides,
                span,
            } => {
                if let Some(setting) = SETTINGS.iter().find(|s| **s == name.name) {
                    if let Some((_, first)) = settings.get(setting) {
                        diags.push(catalog::duplicate_definition(
                            name.span, *first, &name.name, "setting",
                        ));
                    }
                    settings.insert(setting, (value, name.span));
                    continue;
                }
                match classify(g, n, value) {
                    Kind::Population => {
                        declare(
                            &mut scope,
                            name,
                            Entry::Population(population_items.len() as u32),
                            diags,
                        );
                        population_items.push((name, value, overrides.as_deref(), *span));
                    }
                    Kind::Slice => {
                        declare(&mut scope, name, Entry::Slice(slice_items.len()), diags);
                        slice_items.push((name, value, *span));
                    }
                    Kind::Constant => {
                        let k = scope.constants.len();
                        declare(&mut scope, name, Entry::Constant(k), diags);
                        scope.constants.push((name, value));
                        scope.constant_state.push(ConstState::Todo);
                    }
                }
                if overrides.is_some() && !matches!(classify(g, n, value), Kind::Population) {
                    diags.push(
                        catalog::misplaced(*span, "a `{ … }` block", "this statement").help(
                            "only a population (`P = Model(N) { … }`) takes a block of values",
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    // Parameters, in order.
    for (k, d) in param_decls.iter().enumerate() {
        scope.visible_params = k;
        let (q, t) = check_decl(
            fns,
            &mut scope,
            d,
            sources,
            diags,
            Flags::default(),
            "network parameter",
        );
        scope.params[k].t = t;
        net.params.push(q);
    }
    scope.visible_params = net.params.len();
    // Constants, so unused ones are checked too.
    for k in 0..scope.constants.len() {
        let mut cx = ExprChecker::new(fns, diags, Flags::default());
        let span = scope.constants[k].0.span;
        scope.constant(&mut cx, k, span);
    }
    let values = scope.param_values(&net.params);

    // Settings.
    let time_setting = |scope: &mut NetworkScope, name: &str, diags: &mut Diagnostics| {
        let (e, _) = settings.get(name)?;
        let mut cx = ExprChecker::new(fns, diags, Flags::default());
        let c = cx.expect_dim(scope, e, Dim::TIME, &format!("`{name}`"), None);
        if let Some(v) = eval_constant(&c.expr, &values)
            && (v <= 0.0 || v.is_nan())
        {
            diags.push(catalog::invalid_value(
                e.span,
                &format!("`{name}`"),
                &format!("{v} ms"),
                "positive",
            ));
        }
        Some(c.expr)
    };
    net.dt = time_setting(&mut scope, "dt", diags);
    net.duration = time_setting(&mut scope, "duration", diags);
    if let Some((e, _)) = settings.get("seed") {
        let mut cx = ExprChecker::new(fns, diags, Flags::default());
        let c = cx.expect_dim(&mut scope, e, Dim::ONE, "`seed`", None);
        match eval_constant(&c.expr, &values) {
            Some(v) if v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(64) => {}
            Some(v) => diags.push(catalog::invalid_value(
                e.span,
                "`seed`",
                &v.to_string(),
                "a whole number from 0 to 2^64 - 1",
            )),
            None => {}
        }
        net.seed = Some(c.expr);
    }
    if let Some((e, _)) = settings.get("solver") {
        match &e.kind {
            ast::ExprKind::Name(s) => {
                let choice = ast::SolverChoice {
                    name: ast::Ident {
                        name: s.clone(),
                        span: e.span,
                    },
                    options: Vec::new(),
                    span: e.span,
                };
                net.solver = check_solver(&choice, fns, diags);
            }
            ast::ExprKind::Call { func, args } => {
                let choice = ast::SolverChoice {
                    name: func.clone(),
                    options: args.clone(),
                    span: e.span,
                };
                net.solver = check_solver(&choice, fns, diags);
            }
            _ => diags.push(catalog::unknown_solver(e.span, "(expression)", &[])),
        }
    }

    // Populations.
    let mut sizes: Vec<Option<usize>> = Vec::new();
    for (name, value, overrides, span) in &population_items {
        let (population, size) = check_population(
            g, program, &mut scope, name, value, *overrides, *span, &values, diags,
        );
        net.populations.push(population);
        sizes.push(size);
    }

    // Slices.
    let mut slices: Vec<Option<Selection>> = Vec::new();
    for (_, value, _) in &slice_items {
        let sel = match &value.kind {
            ast::ExprKind::Slice { base, start, end } => selection(
                fns,
                &mut scope,
                base,
                start.as_deref(),
                end.as_deref(),
                None,
                value.span,
                &sizes,
                &slices,
                &values,
                diags,
            ),
            ast::ExprKind::Index { base, index } => selection(
                fns,
                &mut scope,
                base,
                None,
                None,
                Some(index),
                value.span,
                &sizes,
                &slices,
                &values,
                diags,
            ),
            _ => None,
        };
        slices.push(sel);
    }

    // Projections and recorders.
    let mut projection_names: HashMap<String, Span> = HashMap::new();
    for item in &n.items {
        match item {
            ast::NetworkItem::Connect(c) => {
                let ctx = NetCtx {
                    g,
                    program,
                    sizes: &sizes,
                    slices: &slices,
                    values: &values,
                    populations: &net.populations,
                    sources,
                };
                if let Some(p) = check_connect(&ctx, &mut scope, c, &mut projection_names, diags) {
                    net.projections.push(p);
                }
            }
            ast::NetworkItem::Record(r) => {
                if let Some(rec) = check_record(
                    g,
                    program,
                    &mut scope,
                    r,
                    &sizes,
                    &slices,
                    &values,
                    &net.populations,
                    diags,
                ) {
                    net.records.push(rec);
                }
            }
            _ => {}
        }
    }
    net
}

enum Kind {
    Population,
    Slice,
    Constant,
}

/// Whether `NAME = value` makes a population, a slice or a constant.
fn classify(g: &Globals, n: &ast::Network, value: &ast::Expr) -> Kind {
    match &value.kind {
        ast::ExprKind::Call { func, .. }
            if func.name == "SpikeSource"
                || func.name == "PoissonGenerator"
                || g.models.contains_key(&func.name) =>
        {
            Kind::Population
        }
        ast::ExprKind::Slice { base, .. } | ast::ExprKind::Index { base, .. } => {
            let is_population = n.items.iter().any(|i| match i {
                ast::NetworkItem::Assign { name, value, .. } => {
                    name.name == base.name
                        && matches!(
                            &value.kind,
                            ast::ExprKind::Call { .. }
                                | ast::ExprKind::Slice { .. }
                                | ast::ExprKind::Index { .. }
                        )
                }
                _ => false,
            });
            if is_population {
                Kind::Slice
            } else {
                Kind::Constant
            }
        }
        _ => Kind::Constant,
    }
}

/// Evaluates a constant, dimensionless, whole-number expression (sizes,
/// indices); reports and returns `None` otherwise.
fn whole_number(
    fns: &super::functions::FunctionTable,
    scope: &mut NetworkScope,
    e: &ast::Expr,
    what: &str,
    values: &[f64],
    diags: &mut Diagnostics,
) -> Option<usize> {
    let mut cx = ExprChecker::new(fns, diags, Flags::default());
    let c = cx.expect_dim(scope, e, Dim::ONE, what, None);
    if c.t == T::Unknown {
        return None;
    }
    match eval_constant(&c.expr, values) {
        Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 => Some(v as usize),
        Some(v) => {
            diags.push(catalog::invalid_value(
                e.span,
                what,
                &v.to_string(),
                "a whole number from 0 to 4294967295",
            ));
            None
        }
        None => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn check_population(
    g: &Globals,
    program: &Program,
    scope: &mut NetworkScope,
    name: &ast::Ident,
    value: &ast::Expr,
    overrides: Option<&[ast::Override]>,
    span: Span,
    values: &[f64],
    diags: &mut Diagnostics,
) -> (Population, Option<usize>) {
    let fns = &g.functions;
    let ast::ExprKind::Call { func, args } = &value.kind else {
        unreachable!("classified as a population")
    };
    let mut size = None;
    let mut size_expr = Checked::error(value.span).expr;
    if args.len() != 1 || args[0].name.is_some() {
        diags.push(catalog::arity(
            value.span,
            &func.name,
            "1 (the number of neurons)",
            args.len(),
        ));
    } else {
        let mut cx = ExprChecker::new(fns, diags, Flags::default());
        let c = cx.expect_dim(scope, &args[0].value, Dim::ONE, "a population size", None);
        size_expr = c.expr.clone();
        if let Some(v) = eval_constant(&c.expr, values) {
            if v >= 1.0 && v.fract() == 0.0 && v <= u32::MAX as f64 {
                size = Some(v as usize);
            } else {
                diags.push(catalog::invalid_size(args[0].value.span, v));
            }
        }
    }
    let mut population = Population {
        name: name.name.clone(),
        kind: PopulationKind::Neuron(0),
        size: size_expr,
        params: Vec::new(),
        init: Vec::new(),
        position: Vec::new(),
        span,
    };
    let overrides = overrides.unwrap_or(&[]);
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for o in overrides {
        if let Some(first) = seen.insert(&o.name.name, o.name.span) {
            diags.push(catalog::duplicate_definition(
                o.name.span,
                first,
                &o.name.name,
                "value",
            ));
        }
    }
    let value_flags = Flags {
        distributions: true,
        index: true,
        size: true,
        ..Flags::default()
    };
    if func.name == "SpikeSource" {
        let mut times = None;
        let mut neurons = None;
        for o in overrides {
            let mut cx = ExprChecker::new(fns, diags, Flags::default());
            match o.name.name.as_str() {
                "times" => {
                    times = Some(list_of(&mut cx, scope, &o.value, Dim::TIME, "spike times"))
                }
                "neurons" => {
                    neurons = Some(list_of(
                        &mut cx,
                        scope,
                        &o.value,
                        Dim::ONE,
                        "spike-source neuron indices",
                    ))
                }
                other => diags.push(catalog::unknown_setting(
                    o.name.span,
                    other,
                    "`SpikeSource`",
                    &crate::names::did_you_mean(other, ["times", "neurons"]),
                )),
            }
        }
        let times = times.unwrap_or_else(|| {
            diags.push(catalog::missing_value(span, "times", "SpikeSource"));
            Checked::error(span).expr
        });
        population.kind = PopulationKind::SpikeSource { times, neurons };
        return (population, size);
    }
    if func.name == "PoissonGenerator" {
        let mut rate = None;
        for o in overrides {
            match o.name.name.as_str() {
                "rate" => {
                    let mut cx = ExprChecker::new(fns, diags, value_flags);
                    rate = Some(
                        cx.expect_dim(scope, &o.value, Dim::FREQUENCY, "a rate", None)
                            .expr,
                    );
                }
                other => diags.push(catalog::unknown_setting(
                    o.name.span,
                    other,
                    "`PoissonGenerator`",
                    &crate::names::did_you_mean(other, ["rate"]),
                )),
            }
        }
        let rate = rate.unwrap_or_else(|| {
            diags.push(catalog::missing_value(span, "rate", "PoissonGenerator"));
            Checked::error(span).expr
        });
        population.kind = PopulationKind::PoissonGenerator { rate };
        return (population, size);
    }
    let Some(model_index) = program.neurons.iter().position(|m| m.name == func.name) else {
        if let Some(parts) = g.models.get(&func.name)
            && parts.kind == ModelKind::Synapse
        {
            diags.push(catalog::wrong_model_kind(
                func.span, &func.name, "neuron", "synapse",
            ));
        }
        return (population, size);
    };
    population.kind = PopulationKind::Neuron(model_index as u32);
    let neuron = &program.neurons[model_index];
    for o in overrides {
        let target = o.name.name.as_str();
        if target == "position" {
            let mut cx = ExprChecker::new(fns, diags, value_flags);
            match &o.value.kind {
                ast::ExprKind::List(items) if (1..=3).contains(&items.len()) => {
                    for item in items {
                        population.position.push(
                            cx.expect_dim(scope, item, Dim::LENGTH, "a position coordinate", None)
                                .expr,
                        );
                    }
                }
                _ => diags.push(catalog::invalid_value(
                    o.value.span,
                    "`position`",
                    "not a list",
                    "a list `[x, y]` or `[x, y, z]` of lengths",
                )),
            }
            continue;
        }
        if let Some(k) = neuron.params.iter().position(|p| p.name == target) {
            let flags = Flags {
                time: true,
                ..value_flags
            };
            let mut cx = ExprChecker::new(fns, diags, flags);
            let q = &neuron.params[k];
            let c = cx.expect_dim(
                scope,
                &o.value,
                q.dim,
                &format!("parameter `{target}`"),
                Some(q.span),
            );
            population.params.push((k as u32, c.expr));
        } else if let Some(k) = neuron.states.iter().position(|s| s.name == target) {
            let mut cx = ExprChecker::new(fns, diags, value_flags);
            let q = &neuron.states[k];
            let c = cx.expect_dim(
                scope,
                &o.value,
                q.dim,
                &format!("the initial value of `{target}`"),
                Some(q.span),
            );
            population.init.push((k as u32, c.expr));
        } else {
            let known: Vec<&str> = neuron
                .params
                .iter()
                .chain(&neuron.states)
                .map(|q| q.name.as_str())
                .chain(std::iter::once("position"))
                .collect();
            let candidates = crate::names::did_you_mean(target, known);
            diags.push(catalog::unknown_setting(
                o.name.span,
                target,
                &format!(
                    "neuron model `{}` (parameters and state variables)",
                    neuron.name
                ),
                &candidates,
            ));
        }
    }
    for (k, p) in neuron.params.iter().enumerate() {
        if p.value.is_none() && !population.params.iter().any(|(i, _)| *i as usize == k) {
            diags.push(catalog::missing_value(span, &p.name, &neuron.name));
        }
    }
    (population, size)
}

fn list_of(
    cx: &mut ExprChecker,
    scope: &mut NetworkScope,
    e: &ast::Expr,
    dim: Dim,
    what: &str,
) -> model::Expr {
    match &e.kind {
        ast::ExprKind::List(items) => {
            let checked: Vec<model::Expr> = items
                .iter()
                .map(|i| cx.expect_dim(scope, i, dim, what, None).expr)
                .collect();
            model::Expr {
                kind: model::ExprKind::List(checked),
                ty: model::Ty::Real(dim),
                span: e.span,
            }
        }
        _ => {
            cx.diags.push(catalog::invalid_value(
                e.span,
                what,
                "not a list",
                "a list such as `[10 ms, 20 ms]`",
            ));
            Checked::error(e.span).expr
        }
    }
}

/// Resolves `P`, `P[3]` or `P[a:b]` (also on slices) to a selection.
#[allow(clippy::too_many_arguments)]
fn selection(
    fns: &super::functions::FunctionTable,
    scope: &mut NetworkScope,
    base: &ast::Ident,
    start: Option<&ast::Expr>,
    end: Option<&ast::Expr>,
    index: Option<&ast::Expr>,
    span: Span,
    sizes: &[Option<usize>],
    slices: &[Option<Selection>],
    values: &[f64],
    diags: &mut Diagnostics,
) -> Option<Selection> {
    let (population, offset, size) = match scope.entries.get(&base.name).map(|(e, _)| e.clone()) {
        Some(Entry::Population(p)) => (p, 0usize, sizes.get(p as usize).copied().flatten()),
        Some(Entry::Slice(k)) => {
            let s = slices.get(k)?.as_ref()?;
            let lo = s
                .start
                .as_ref()
                .and_then(|e| eval_constant(e, values))
                .unwrap_or(0.0) as usize;
            let hi = s
                .end
                .as_ref()
                .and_then(|e| eval_constant(e, values))
                .map(|v| v as usize);
            let size = hi
                .or(sizes.get(s.population as usize).copied().flatten())
                .map(|h| h.saturating_sub(lo));
            (s.population, lo, size)
        }
        _ => {
            let candidates: Vec<&str> = scope
                .entries
                .iter()
                .filter(|(_, (e, _))| matches!(e, Entry::Population(_) | Entry::Slice(_)))
                .map(|(n, _)| n.as_str())
                .collect();
            let candidates = crate::names::did_you_mean(&base.name, candidates);
            diags.push(catalog::unknown_name(
                base.span,
                &base.name,
                "population",
                &candidates,
            ));
            return None;
        }
    };
    let make = |v: usize| model::Expr {
        kind: model::ExprKind::Const(v as f64),
        ty: model::Ty::Real(Dim::ONE),
        span,
    };
    let (lo, hi) = if let Some(i) = index {
        let i = whole_number(fns, scope, i, "a neuron index", values, diags)?;
        (i, Some(i + 1))
    } else {
        let lo = match start {
            Some(e) => whole_number(fns, scope, e, "a slice start", values, diags)?,
            None => 0,
        };
        let hi = match end {
            Some(e) => Some(whole_number(fns, scope, e, "a slice end", values, diags)?),
            None => None,
        };
        (lo, hi)
    };
    if let Some(size) = size {
        let hi_value = hi.unwrap_or(size);
        if lo >= hi_value && hi_value <= size && index.is_none() {
            diags.push(catalog::invalid_value(
                span,
                "this slice",
                &format!("{lo}:{hi_value}"),
                "non-empty (start below end)",
            ));
            return None;
        }
        if hi_value > size || lo >= hi_value {
            let what = if index.is_some() {
                format!("index {lo}")
            } else {
                format!("the slice {lo}:{hi_value}")
            };
            diags.push(catalog::out_of_range(span, &what, size));
            return None;
        }
    }
    Some(Selection {
        population,
        start: Some(make(offset + lo)),
        end: hi
            .map(|h| make(offset + h))
            .or_else(|| size.map(|s| make(offset + s))),
        span,
    })
}

fn population_ref(
    fns: &super::functions::FunctionTable,
    scope: &mut NetworkScope,
    r: &ast::PopulationRef,
    sizes: &[Option<usize>],
    slices: &[Option<Selection>],
    values: &[f64],
    diags: &mut Diagnostics,
) -> Option<Selection> {
    match &r.selection {
        None => selection(
            fns, scope, &r.name, None, None, None, r.span, sizes, slices, values, diags,
        ),
        Some(ast::Selection::Index(i)) => selection(
            fns,
            scope,
            &r.name,
            None,
            None,
            Some(i),
            r.span,
            sizes,
            slices,
            values,
            diags,
        ),
        Some(ast::Selection::Range(a, b)) => selection(
            fns,
            scope,
            &r.name,
            a.as_ref(),
            b.as_ref(),
            None,
            r.span,
            sizes,
            slices,
            values,
            diags,
        ),
    }
}

/// What projection checking needs from the network.
struct NetCtx<'c> {
    g: &'c Globals<'c>,
    program: &'c Program,
    sizes: &'c [Option<usize>],
    slices: &'c [Option<Selection>],
    values: &'c [f64],
    populations: &'c [Population],
    sources: &'c SourceMap,
}

impl NetCtx<'_> {
    fn neuron_of(&self, sel: &Selection) -> Option<&NeuronModel> {
        match self.populations.get(sel.population as usize)?.kind {
            PopulationKind::Neuron(m) => self.program.neurons.get(m as usize),
            PopulationKind::SpikeSource { .. } | PopulationKind::PoissonGenerator { .. } => None,
        }
    }
}

fn check_connect(
    ctx: &NetCtx,
    scope: &mut NetworkScope,
    c: &ast::Connect,
    names: &mut HashMap<String, Span>,
    diags: &mut Diagnostics,
) -> Option<Projection> {
    let fns = &ctx.g.functions;
    let source = population_ref(
        fns, scope, &c.source, ctx.sizes, ctx.slices, ctx.values, diags,
    );
    let target = population_ref(
        fns, scope, &c.target, ctx.sizes, ctx.slices, ctx.values, diags,
    );
    let name = match &c.name {
        Some(n) => n.name.clone(),
        None => {
            let base = format!("{}_to_{}", c.source.name.name, c.target.name.name);
            let mut candidate = base.clone();
            let mut k = 2;
            while names.contains_key(&candidate) {
                candidate = format!("{base}_{k}");
                k += 1;
            }
            candidate
        }
    };
    let name_span = c.name.as_ref().map(|n| n.span).unwrap_or(c.span);
    if let Some(first) = names.insert(name.clone(), name_span) {
        diags.push(catalog::duplicate_definition(
            name_span,
            first,
            &name,
            "projection",
        ));
    }
    let value_flags = Flags {
        distributions: true,
        index: true,
        target_index: true,
        positions: true,
        ..Flags::default()
    };
    scope.positions = true;
    let mut rule = None;
    // Where `rule = …` was first written, whether or not it was valid: an
    // invalid rule is reported by `check_rule`, not as a missing one.
    let mut rule_setting: Option<Span> = None;
    let mut autapses = true;
    let mut multapses = false;
    let mut delay = None;
    let mut values: Vec<(String, model::Expr, Dim, Span)> = Vec::new();
    for s in &c.settings {
        match s.name.name.as_str() {
            "rule" => {
                if let Some(first) = rule_setting {
                    diags.push(catalog::duplicate_definition(
                        s.name.span,
                        first,
                        "rule",
                        "setting",
                    ));
                }
                rule_setting = Some(s.name.span);
                rule = check_rule(
                    fns,
                    scope,
                    &s.value,
                    &mut autapses,
                    &mut multapses,
                    ctx.values,
                    diags,
                );
                // A file name is relative to the model file that names it.
                if let Some(ConnectionRule::FromFile(path)) = &mut rule
                    && let crate::source::Origin::Disk(model) =
                        &ctx.sources.get(s.value.span.file).origin
                    && let Some(dir) = model.parent()
                {
                    *path = dir.join(&*path).display().to_string();
                }
            }
            "delay" => {
                let mut cx = ExprChecker::new(fns, diags, value_flags);
                let d = cx.expect_dim(scope, &s.value, Dim::TIME, "a delay", None);
                if let Some(v) = eval_constant(&d.expr, ctx.values)
                    && v < 0.0
                {
                    diags.push(catalog::invalid_value(
                        s.value.span,
                        "a delay",
                        &format!("{v} ms"),
                        "zero or positive",
                    ));
                }
                delay = Some(d.expr);
            }
            other => {
                let mut cx = ExprChecker::new(fns, diags, value_flags);
                let v = cx.expect_number(scope, &s.value);
                values.push((
                    other.to_string(),
                    v.expr,
                    v.t.dim().unwrap_or(Dim::ONE),
                    s.name.span,
                ));
            }
        }
    }
    scope.positions = false;
    if rule_setting.is_none() {
        diags.push(catalog::missing_rule(c.span));
    }
    let (source, target) = (source?, target?);
    let pre = ctx.neuron_of(&source);
    let post = ctx.neuron_of(&target);
    if post.is_none() {
        let kind = match ctx.populations.get(target.population as usize)?.kind {
            PopulationKind::Neuron(_) => None,
            PopulationKind::SpikeSource { .. } => Some("spike source"),
            PopulationKind::PoissonGenerator { .. } => Some("Poisson generator"),
        };
        if let Some(kind) = kind {
            diags.push(catalog::wrong_model_kind(
                c.target.span,
                &c.target.name.name,
                "neuron population",
                kind,
            ));
            return None;
        }
    }
    let post = post?;

    let synapse = if let Some(use_) = &c.synapse {
        if let Some(h) = &c.on_pre {
            diags.push(catalog::conflicting_synapse(h.span, use_.span));
        }
        if let Some(h) = &c.on_post {
            diags.push(catalog::conflicting_synapse(h.span, use_.span));
        }
        let Some(parts) = ctx.g.models.get(&use_.model.name) else {
            let candidates = crate::names::did_you_mean(
                &use_.model.name,
                ctx.g
                    .models
                    .values()
                    .filter(|m| m.kind == ModelKind::Synapse)
                    .map(|m| m.model.name.name.as_str()),
            );
            diags.push(catalog::unknown_name(
                use_.model.span,
                &use_.model.name,
                "synapse model",
                &candidates,
            ));
            return None;
        };
        if parts.kind != ModelKind::Synapse {
            diags.push(catalog::wrong_model_kind(
                use_.model.span,
                &use_.model.name,
                "synapse",
                "neuron",
            ));
            return None;
        }
        for o in &use_.overrides {
            let mut cx = ExprChecker::new(fns, diags, value_flags);
            scope.positions = true;
            let v = cx.expect_number(scope, &o.value);
            scope.positions = false;
            values.push((
                o.name.name.clone(),
                v.expr,
                v.t.dim().unwrap_or(Dim::ONE),
                o.name.span,
            ));
        }
        let synapse = super::synapse::check_synapse(
            ctx.g,
            parts,
            pre,
            Some(post),
            &Default::default(),
            ctx.sources,
            diags,
        );
        for (vname, _, dim, span) in &values {
            let settable = synapse
                .params
                .iter()
                .chain(&synapse.handler_args)
                .chain(&synapse.states);
            match settable.clone().find(|q| q.name == *vname) {
                Some(q) if q.dim != *dim => diags.push(catalog::unit_expected(
                    *span,
                    &format!("`{vname}`"),
                    q.dim,
                    *dim,
                    Some(q.span),
                )),
                Some(_) => {}
                None => {
                    let known: Vec<String> = synapse
                        .params
                        .iter()
                        .chain(&synapse.handler_args)
                        .chain(&synapse.states)
                        .map(|q| q.name.clone())
                        .chain(["rule".to_string(), "delay".to_string()])
                        .collect();
                    diags.push(catalog::unknown_setting(
                        *span,
                        vname,
                        &format!("synapse model `{}`", synapse.name),
                        &crate::names::did_you_mean(vname, known.iter().map(String::as_str)),
                    ));
                }
            }
        }
        for q in &synapse.handler_args {
            if !values.iter().any(|(n, ..)| *n == q.name) {
                diags.push(
                    catalog::missing_value(c.span, &q.name, &synapse.name)
                        .at(c.span, "projection created here")
                        .help(format!(
                        "`{}` is a value of `on pre({}: …)`; set it in the projection: `{} = …`",
                        q.name, q.name, q.name
                    )),
                );
            }
        }
        synapse
    } else {
        if c.on_pre.is_none() && c.on_post.is_none() {
            diags.push(catalog::empty_projection(c.span));
        }
        let model = ast::Model {
            kind: ModelKind::Synapse,
            name: ast::Ident {
                name: name.clone(),
                span: c.span,
            },
            extends: None,
            items: Vec::new(),
            doc: None,
            span: c.span,
        };
        let mut parts = ModelParts {
            kind: ModelKind::Synapse,
            model: &model,
            params: Vec::new(),
            states: Vec::new(),
            post_states: Vec::new(),
            inputs: Vec::new(),
            equations: Vec::new(),
            spike: None,
            refractory: None,
            events: Vec::new(),
            on_pre: c.on_pre.as_ref(),
            on_post: c.on_post.as_ref(),
            outputs: Vec::new(),
            solver: None,
        };
        parts.on_pre = c.on_pre.as_ref();
        let outer = super::synapse::Outer {
            args: values
                .iter()
                .map(|(n, _, d, s)| (n.clone(), *d, *s))
                .collect(),
            values: scope.outer_values(fns, diags),
        };
        super::synapse::check_synapse(ctx.g, &parts, pre, Some(post), &outer, ctx.sources, diags)
    };
    Some(Projection {
        name,
        source,
        target,
        rule: rule?,
        autapses,
        multapses,
        synapse,
        values: values.into_iter().map(|(n, e, _, _)| (n, e)).collect(),
        delay,
        span: c.span,
    })
}

fn check_rule(
    fns: &super::functions::FunctionTable,
    scope: &mut NetworkScope,
    e: &ast::Expr,
    autapses: &mut bool,
    multapses: &mut bool,
    values: &[f64],
    diags: &mut Diagnostics,
) -> Option<ConnectionRule> {
    let (name, args): (&ast::Ident, &[ast::Arg]) = match &e.kind {
        ast::ExprKind::Name(n) => {
            return match n.as_str() {
                "all_to_all" => Some(ConnectionRule::AllToAll),
                "one_to_one" => Some(ConnectionRule::OneToOne),
                other => {
                    let candidates = crate::names::did_you_mean(
                        other,
                        super::builtins::RULE_NAMES.iter().copied(),
                    );
                    diags.push(catalog::unknown_name(
                        e.span,
                        other,
                        "connection rule",
                        &candidates,
                    ));
                    None
                }
            };
        }
        ast::ExprKind::Call { func, args } => (func, args),
        _ => {
            diags.push(catalog::connection_rule(
                e.span,
                "expected a rule name or call",
            ));
            return None;
        }
    };
    let positional: Vec<&ast::Expr> = args
        .iter()
        .filter(|a| a.name.is_none())
        .map(|a| &a.value)
        .collect();
    for a in args.iter().filter(|a| a.name.is_some()) {
        let n = a.name.as_ref().expect("filtered");
        let target = match n.name.as_str() {
            "autapses" => &mut *autapses,
            "multapses" => &mut *multapses,
            other => {
                diags.push(catalog::unknown_argument(
                    n.span,
                    other,
                    &name.name,
                    &["autapses", "multapses"],
                ));
                continue;
            }
        };
        match &a.value.kind {
            ast::ExprKind::Bool(b) => *target = *b,
            _ => diags.push(catalog::invalid_value(
                a.value.span,
                &format!("`{}`", n.name),
                "not `true` or `false`",
                "`true` or `false`",
            )),
        }
    }
    let one_arg = |diags: &mut Diagnostics| {
        if positional.len() != 1 {
            diags.push(catalog::arity(e.span, &name.name, "1", positional.len()));
            return None;
        }
        Some(positional[0])
    };
    let count = |scope: &mut NetworkScope, diags: &mut Diagnostics| -> Option<model::Expr> {
        let a = one_arg(diags)?;
        let mut cx = ExprChecker::new(fns, diags, Flags::default());
        let c = cx.expect_dim(
            scope,
            a,
            Dim::ONE,
            &format!("the count of `{}`", name.name),
            None,
        );
        if let Some(v) = eval_constant(&c.expr, values)
            && (v < 0.0 || v.fract() != 0.0)
        {
            diags.push(catalog::invalid_value(
                a.span,
                &format!("the count of `{}`", name.name),
                &v.to_string(),
                "a whole number",
            ));
        }
        Some(c.expr)
    };
    match name.name.as_str() {
        "all_to_all" | "one_to_one" => {
            if !positional.is_empty() {
                diags.push(catalog::arity(e.span, &name.name, "0", positional.len()));
            }
            Some(if name.name == "all_to_all" {
                ConnectionRule::AllToAll
            } else {
                ConnectionRule::OneToOne
            })
        }
        "fixed_probability" => {
            let a = one_arg(diags)?;
            let mut cx = ExprChecker::new(fns, diags, Flags::default());
            let c = cx.expect_dim(scope, a, Dim::ONE, "a connection probability", None);
            if let Some(v) = eval_constant(&c.expr, values)
                && !(0.0..=1.0).contains(&v)
            {
                diags.push(catalog::invalid_value(
                    a.span,
                    "the connection probability",
                    &v.to_string(),
                    "between 0 and 1",
                ));
            }
            Some(ConnectionRule::FixedProbability(c.expr))
        }
        "fixed_indegree" => count(scope, diags).map(ConnectionRule::FixedIndegree),
        "fixed_outdegree" => count(scope, diags).map(ConnectionRule::FixedOutdegree),
        "fixed_total" => count(scope, diags).map(ConnectionRule::FixedTotal),
        "probability" => {
            let a = one_arg(diags)?;
            let flags = Flags {
                index: true,
                target_index: true,
                positions: true,
                ..Flags::default()
            };
            let mut cx = ExprChecker::new(fns, diags, flags);
            let c = cx.check(scope, a);
            if let T::Real(d) = c.t
                && !d.is_dimensionless()
            {
                diags.push(catalog::unit_expected(
                    a.span,
                    "a connection probability",
                    Dim::ONE,
                    d,
                    None,
                ));
            }
            Some(ConnectionRule::Probability(c.expr))
        }
        "from_file" => {
            let a = one_arg(diags)?;
            match &a.kind {
                ast::ExprKind::Str(path) => Some(ConnectionRule::FromFile(path.clone())),
                _ => {
                    diags.push(catalog::connection_rule(
                        a.span,
                        "`from_file` takes a quoted file name",
                    ));
                    None
                }
            }
        }
        other => {
            let candidates =
                crate::names::did_you_mean(other, super::builtins::RULE_NAMES.iter().copied());
            diags.push(catalog::unknown_name(
                name.span,
                other,
                "connection rule",
                &candidates,
            ));
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_record(
    g: &Globals,
    program: &Program,
    scope: &mut NetworkScope,
    r: &ast::Record,
    sizes: &[Option<usize>],
    slices: &[Option<Selection>],
    values: &[f64],
    populations: &[Population],
    diags: &mut Diagnostics,
) -> Option<Recorder> {
    let fns = &g.functions;
    let of = population_ref(fns, scope, &r.of, sizes, slices, values, diags);
    let every = r.every.as_ref().map(|e| {
        let mut cx = ExprChecker::new(fns, diags, Flags::default());
        let c = cx.expect_dim(scope, e, Dim::TIME, "a recording interval", None);
        if let Some(v) = eval_constant(&c.expr, values)
            && (v <= 0.0 || v.is_nan())
        {
            diags.push(catalog::invalid_value(
                e.span,
                "the recording interval",
                &format!("{v} ms"),
                "positive",
            ));
        }
        c.expr
    });
    let of = of?;
    if let PopulationKind::PoissonGenerator { .. } = populations.get(of.population as usize)?.kind {
        diags.push(
            catalog::wrong_model_kind(
                r.of.span,
                &r.of.name.name,
                "neuron population",
                "Poisson generator",
            )
            .help(
                "a Poisson generator has no spikes or state of its own: each of its \
                 synapses carries an independent train; record the targets instead",
            ),
        );
        return None;
    }
    let kind = match &r.what {
        ast::RecordWhat::Spikes => RecordKind::Spikes,
        ast::RecordWhat::Rate => RecordKind::Rate,
        ast::RecordWhat::Variables(vars) => {
            let neuron = match populations.get(of.population as usize)?.kind {
                PopulationKind::Neuron(m) => program.neurons.get(m as usize)?,
                PopulationKind::SpikeSource { .. } | PopulationKind::PoissonGenerator { .. } => {
                    diags.push(
                        catalog::wrong_model_kind(
                            r.of.span,
                            &r.of.name.name,
                            "neuron population",
                            "spike source",
                        )
                        .help("a spike source has no state; record its `spikes`"),
                    );
                    return None;
                }
            };
            let mut out = Vec::new();
            for v in vars {
                let var = if let Some(k) = neuron.states.iter().position(|s| s.name == v.name) {
                    Some(Var::State(k as u32))
                } else if let Some(k) = neuron.aliases.iter().position(|s| s.name == v.name) {
                    Some(Var::Alias(k as u32))
                } else {
                    neuron
                        .inputs
                        .iter()
                        .position(|s| {
                            s.name == v.name && matches!(s.kind, model::InputKind::Continuous(_))
                        })
                        .map(|k| Var::Input(k as u32))
                };
                match var {
                    Some(var) => out.push((v.name.clone(), var)),
                    None => {
                        let known = neuron
                            .states
                            .iter()
                            .map(|s| s.name.as_str())
                            .chain(neuron.aliases.iter().map(|a| a.name.as_str()))
                            .chain(neuron.inputs.iter().map(|a| a.name.as_str()));
                        let candidates = crate::names::did_you_mean(&v.name, known);
                        diags.push(catalog::unknown_name(
                            v.span,
                            &v.name,
                            &format!("recordable variable of `{}`", neuron.name),
                            &candidates,
                        ));
                    }
                }
            }
            RecordKind::Variables(out)
        }
    };
    Some(Recorder {
        kind,
        of,
        every,
        span: r.span,
    })
}
