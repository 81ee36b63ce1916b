//! Gathering a model's blocks and flattening `extends`.
//!
//! A model's body may spread a kind of declaration over several blocks; the
//! parts are gathered per kind. A model that extends another starts from the
//! base's parts: a declaration with the same name replaces the base's (in
//! place), an equation for the same variable replaces the base's, the child's
//! spike rule, refractory period, solver and handlers replace the base's, and
//! `on` conditions are added.

use crate::diagnostics::{Diagnostics, catalog};
use crate::source::Span;
use crate::syntax::ast::{self, ModelKind};
use std::collections::HashMap;

/// The gathered parts of one model, after `extends`.
#[derive(Clone)]
pub struct ModelParts<'a> {
    /// Neuron or synapse.
    pub kind: ModelKind,
    /// The model as written (name, doc, span).
    pub model: &'a ast::Model,
    /// Parameters.
    pub params: Vec<&'a ast::Decl>,
    /// State (per neuron, or per synapse).
    pub states: Vec<&'a ast::Decl>,
    /// Post state (synapses).
    pub post_states: Vec<&'a ast::Decl>,
    /// Inputs (neurons).
    pub inputs: Vec<&'a ast::InputDecl>,
    /// Equations.
    pub equations: Vec<&'a ast::Equation>,
    /// `spike when`.
    pub spike: Option<&'a ast::SpikeRule>,
    /// `refractory`.
    pub refractory: Option<&'a ast::Refractory>,
    /// `on CONDITION`.
    pub events: Vec<&'a ast::OnCondition>,
    /// `on pre`.
    pub on_pre: Option<&'a ast::OnPre>,
    /// `on post`.
    pub on_post: Option<&'a ast::OnPost>,
    /// `output`.
    pub outputs: Vec<&'a ast::Output>,
    /// `solver`.
    pub solver: Option<&'a ast::SolverChoice>,
}

impl<'a> ModelParts<'a> {
    fn empty(model: &'a ast::Model) -> ModelParts<'a> {
        ModelParts {
            kind: model.kind,
            model,
            params: Vec::new(),
            states: Vec::new(),
            post_states: Vec::new(),
            inputs: Vec::new(),
            equations: Vec::new(),
            spike: None,
            refractory: None,
            events: Vec::new(),
            on_pre: None,
            on_post: None,
            outputs: Vec::new(),
            solver: None,
        }
    }
}

/// Flattens every model; models in an `extends` cycle or extending an
/// unknown model are reported and checked without their base.
pub fn flatten_all<'a>(
    models: &[&'a ast::Model],
    diags: &mut Diagnostics,
) -> HashMap<String, ModelParts<'a>> {
    let by_name: HashMap<&str, &ast::Model> =
        models.iter().map(|m| (m.name.name.as_str(), *m)).collect();
    let mut done: HashMap<String, ModelParts<'a>> = HashMap::new();
    for m in models {
        let mut chain = Vec::new();
        flatten(m, &by_name, &mut done, &mut chain, diags);
    }
    done
}

fn flatten<'a>(
    model: &'a ast::Model,
    by_name: &HashMap<&str, &'a ast::Model>,
    done: &mut HashMap<String, ModelParts<'a>>,
    chain: &mut Vec<String>,
    diags: &mut Diagnostics,
) -> Option<ModelParts<'a>> {
    if let Some(p) = done.get(&model.name.name) {
        return Some(p.clone());
    }
    if chain.contains(&model.name.name) {
        return None;
    }
    chain.push(model.name.name.clone());
    let mut parts = ModelParts::empty(model);
    if let Some(base_name) = &model.extends {
        match by_name.get(base_name.name.as_str()) {
            Some(base) if base.kind != model.kind => diags.push(catalog::wrong_model_kind(
                base_name.span,
                &base_name.name,
                model.kind.keyword(),
                base.kind.keyword(),
            )),
            Some(base) => {
                if chain.contains(&base.name.name) {
                    let start = chain.iter().position(|n| *n == base.name.name).unwrap_or(0);
                    let mut cycle = chain[start..].to_vec();
                    cycle.push(base.name.name.clone());
                    diags.push(catalog::extends_cycle(base_name.span, &cycle));
                } else if let Some(base_parts) = flatten(base, by_name, done, chain, diags) {
                    parts = base_parts;
                    parts.model = model;
                }
            }
            None => {
                let candidates = crate::names::did_you_mean(
                    &base_name.name,
                    by_name
                        .values()
                        .filter(|m| m.kind == model.kind)
                        .map(|m| m.name.name.as_str()),
                );
                diags.push(catalog::unknown_name(
                    base_name.span,
                    &base_name.name,
                    model.kind.keyword(),
                    &candidates,
                ));
            }
        }
    }
    overlay(&mut parts, model, diags);
    chain.pop();
    done.insert(model.name.name.clone(), parts.clone());
    Some(parts)
}

/// Adds a model's own items on top of (possibly inherited) parts.
fn overlay<'a>(parts: &mut ModelParts<'a>, model: &'a ast::Model, diags: &mut Diagnostics) {
    let mut own_names: HashMap<String, (Span, &'static str)> = HashMap::new();
    let mut own = |name: &ast::Ident, order: u8, what: &'static str, diags: &mut Diagnostics| {
        let key = format!("{}{}", name.name, "'".repeat(order as usize));
        if let Some((first, first_what)) = own_names.insert(key.clone(), (name.span, what)) {
            let what = if first_what == what { what } else { "name" };
            diags.push(catalog::duplicate_definition(name.span, first, &key, what));
            false
        } else {
            true
        }
    };
    let mut single: HashMap<&'static str, Span> = HashMap::new();
    let mut once = |what: &'static str, span: Span, diags: &mut Diagnostics| {
        if let Some(first) = single.insert(what, span) {
            diags.push(catalog::duplicate_block(span, first, what));
        }
    };
    for item in &model.items {
        match item {
            ast::ModelItem::Parameters(decls, _) => {
                for d in decls {
                    if own(&d.name, d.order, "parameter", diags) {
                        replace_decl(&mut parts.params, d);
                    }
                }
            }
            ast::ModelItem::State(decls, _) => {
                for d in decls {
                    if own(&d.name, d.order, "state variable", diags) {
                        replace_decl(&mut parts.states, d);
                    }
                }
            }
            ast::ModelItem::PostState(decls, _) => {
                for d in decls {
                    if own(&d.name, d.order, "post-state variable", diags) {
                        replace_decl(&mut parts.post_states, d);
                    }
                }
            }
            ast::ModelItem::Inputs(inputs, _) => {
                for i in inputs {
                    if own(&i.name, 0, "input", diags) {
                        match parts.inputs.iter_mut().find(|x| x.name.name == i.name.name) {
                            Some(slot) => *slot = i,
                            None => parts.inputs.push(i),
                        }
                    }
                }
            }
            ast::ModelItem::Equations(eqs, _) => {
                for e in eqs {
                    let key = equation_key(e);
                    match parts.equations.iter_mut().find(|x| equation_key(x) == key) {
                        Some(slot) if !is_own(slot, model) => *slot = e,
                        _ => parts.equations.push(e),
                    }
                }
            }
            ast::ModelItem::Spike(s) => {
                once("`spike when` rule", s.span, diags);
                parts.spike = Some(s);
            }
            ast::ModelItem::Refractory(r) => {
                once("`refractory` statement", r.span, diags);
                parts.refractory = Some(r);
            }
            ast::ModelItem::OnCondition(o) => parts.events.push(o),
            ast::ModelItem::OnPre(h) => {
                once("`on pre` handler", h.span, diags);
                parts.on_pre = Some(h);
            }
            ast::ModelItem::OnPost(h) => {
                once("`on post` handler", h.span, diags);
                parts.on_post = Some(h);
            }
            ast::ModelItem::Output(o) => match parts
                .outputs
                .iter_mut()
                .find(|x| x.target.name == o.target.name)
            {
                Some(slot) if !output_is_own(slot, model) => *slot = o,
                _ => parts.outputs.push(o),
            },
            ast::ModelItem::Solver(s) => {
                once("`solver` choice", s.span, diags);
                parts.solver = Some(s);
            }
        }
    }
    if model.kind == ModelKind::Neuron {
        for (what, span) in [
            (
                "`post state`",
                first_span(model, |i| matches!(i, ast::ModelItem::PostState(..))),
            ),
            (
                "`on pre`",
                first_span(model, |i| matches!(i, ast::ModelItem::OnPre(..))),
            ),
            (
                "`on post`",
                first_span(model, |i| matches!(i, ast::ModelItem::OnPost(..))),
            ),
            (
                "`output`",
                first_span(model, |i| matches!(i, ast::ModelItem::Output(..))),
            ),
        ] {
            if let Some(span) = span {
                diags.push(
                    catalog::misplaced(span, what, "a neuron").help("this belongs in a `synapse`"),
                );
            }
        }
    } else {
        for (what, span) in [
            (
                "`inputs`",
                first_span(model, |i| matches!(i, ast::ModelItem::Inputs(..))),
            ),
            (
                "`spike when`",
                first_span(model, |i| matches!(i, ast::ModelItem::Spike(..))),
            ),
            (
                "`refractory`",
                first_span(model, |i| matches!(i, ast::ModelItem::Refractory(..))),
            ),
            (
                "`on CONDITION`",
                first_span(model, |i| matches!(i, ast::ModelItem::OnCondition(..))),
            ),
        ] {
            if let Some(span) = span {
                diags.push(
                    catalog::misplaced(span, what, "a synapse").help("this belongs in a `neuron`"),
                );
            }
        }
    }
}

fn item_span(item: &ast::ModelItem) -> Span {
    match item {
        ast::ModelItem::Parameters(_, s)
        | ast::ModelItem::State(_, s)
        | ast::ModelItem::PostState(_, s)
        | ast::ModelItem::Inputs(_, s)
        | ast::ModelItem::Equations(_, s) => *s,
        ast::ModelItem::Spike(x) => x.span,
        ast::ModelItem::Refractory(x) => x.span,
        ast::ModelItem::OnCondition(x) => x.span,
        ast::ModelItem::OnPre(x) => x.span,
        ast::ModelItem::OnPost(x) => x.span,
        ast::ModelItem::Output(x) => x.span,
        ast::ModelItem::Solver(x) => x.span,
    }
}

fn first_span(model: &ast::Model, pred: impl Fn(&ast::ModelItem) -> bool) -> Option<Span> {
    model.items.iter().find(|i| pred(i)).map(item_span)
}

fn replace_decl<'a>(list: &mut Vec<&'a ast::Decl>, d: &'a ast::Decl) {
    match list
        .iter_mut()
        .find(|x| x.name.name == d.name.name && x.order == d.order)
    {
        Some(slot) => *slot = d,
        None => list.push(d),
    }
}

/// What an equation defines: equations with the same key replace each other
/// across `extends`.
fn equation_key(e: &ast::Equation) -> String {
    match e {
        ast::Equation::Ode { var, order, .. } => {
            format!("ode {}{}", var.name, "'".repeat(*order as usize))
        }
        ast::Equation::Alias { name, .. } => format!("alias {}", name.name),
        ast::Equation::Kernel { name, .. } => format!("kernel {}", name.name),
    }
}

fn equation_span(e: &ast::Equation) -> Span {
    match e {
        ast::Equation::Ode { span, .. }
        | ast::Equation::Alias { span, .. }
        | ast::Equation::Kernel { span, .. } => *span,
    }
}

fn within(span: Span, model: &ast::Model) -> bool {
    span.file == model.span.file && span.start >= model.span.start && span.end <= model.span.end
}

/// Whether an equation was written in `model` itself (not inherited).
fn is_own(e: &ast::Equation, model: &ast::Model) -> bool {
    within(equation_span(e), model)
}

fn output_is_own(o: &ast::Output, model: &ast::Model) -> bool {
    within(o.span, model)
}
