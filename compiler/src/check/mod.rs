//! Semantic analysis: from parsed files to the checked [`Program`].
//!
//! The checker collects every model, function and network of all loaded
//! files into one namespace, flattens `extends`, then checks each neuron,
//! synapse and network, one file per family of checks. It collects every
//! problem it finds and goes on, so a user sees all errors at once.

mod builtins;
mod eval;
mod expr;
mod flatten;
mod functions;
mod kernel;
mod network;
mod neuron;
mod scope;
mod stmt;
mod synapse;
mod units;

use crate::diagnostics::{Diagnostics, catalog};
use crate::loader::Loaded;
use crate::model::Program;
use crate::source::Span;
use crate::syntax::ast;
use std::collections::HashMap;

pub use eval::eval_constant;
pub use expr::const_value;

/// Everything defined at the top level of all loaded files.
pub(crate) struct Globals<'a> {
    /// Models by name, flattened over `extends`.
    pub models: HashMap<String, flatten::ModelParts<'a>>,
    /// Model names in definition order.
    pub model_order: Vec<String>,
    /// User functions.
    pub functions: functions::FunctionTable,
}

/// Checks all loaded files and returns the checked program and every
/// problem found.
pub fn check(loaded: &Loaded) -> (Program, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut models: Vec<&ast::Model> = Vec::new();
    let mut functions: Vec<ast::Function> = Vec::new();
    let mut networks: Vec<&ast::Network> = Vec::new();
    let mut defined: HashMap<String, (Span, &'static str)> = HashMap::new();
    let mut define = |name: &ast::Ident, what: &'static str, diags: &mut Diagnostics| {
        if let Some((first, first_what)) = defined.get(&name.name) {
            let what = if *first_what == what { what } else { "name" };
            diags.push(catalog::duplicate_definition(
                name.span, *first, &name.name, what,
            ));
            false
        } else {
            defined.insert(name.name.clone(), (name.span, what));
            true
        }
    };
    for file in &loaded.files {
        for item in &file.ast.items {
            match item {
                ast::Item::Import(_) => {}
                ast::Item::Function(f) => {
                    if define(&f.name, "function", &mut diags) {
                        functions.push(f.clone());
                    }
                }
                ast::Item::Model(m) => {
                    if define(&m.name, m.kind.keyword(), &mut diags) {
                        models.push(m);
                    }
                }
                ast::Item::Network(n) => {
                    if define(&n.name, "network", &mut diags) {
                        networks.push(n);
                    }
                }
            }
        }
    }
    for (name, reserved) in [
        ("SpikeSource", "built-in spike source"),
        ("PoissonGenerator", "built-in Poisson generator"),
    ] {
        if let Some((span, _)) = defined.get(name) {
            diags.push(
                catalog::duplicate_definition(*span, *span, name, "model")
                    .help(format!("`{name}` is the {reserved}; choose another name")),
            );
        }
    }
    let flat = flatten::flatten_all(&models, &mut diags);
    let globals = Globals {
        model_order: models.iter().map(|m| m.name.name.clone()).collect(),
        models: flat,
        functions: functions::FunctionTable::new(functions),
    };
    globals.functions.check_all(&mut diags);

    let mut program = Program::default();
    for name in &globals.model_order {
        let Some(parts) = globals.models.get(name) else {
            continue;
        };
        match parts.kind {
            ast::ModelKind::Neuron => {
                let n = neuron::check_neuron(&globals, parts, &loaded.sources, &mut diags);
                program.neurons.push(n);
            }
            ast::ModelKind::Synapse => {
                let s = synapse::check_synapse(
                    &globals,
                    parts,
                    None,
                    None,
                    &synapse::Outer::default(),
                    &loaded.sources,
                    &mut diags,
                );
                program.synapses.push(s);
            }
        }
    }
    for n in networks {
        let net = network::check_network(&globals, &program, n, &loaded.sources, &mut diags);
        program.networks.push(net);
    }
    (program, diags)
}
