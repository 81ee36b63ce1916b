//! `nmlc doc`: the model library as text, from doc comments and
//! declarations.

use crate::Compilation;
use crate::model::{InputKind, Quantity};
use crate::source::{Origin, Span};
use std::fmt::Write as _;

/// One documented model.
struct Entry {
    kind: &'static str,
    name: String,
    module: String,
    doc: Option<String>,
    params: Vec<Row>,
    states: Vec<Row>,
    inputs: Vec<Row>,
}

/// One documented declaration: name, unit, default as written, doc.
struct Row {
    name: String,
    unit: String,
    default: String,
    doc: String,
}

/// The standard library, ready to print.
pub struct Library {
    entries: Vec<Entry>,
}

impl Library {
    /// Collects every model of a compilation of the standard library.
    pub fn new(c: &Compilation) -> Library {
        let module_of = |span: Span| match &c.loaded.sources.get(span.file).origin {
            Origin::Stdlib(m) => m.clone(),
            Origin::Disk(p) => p.display().to_string(),
            Origin::Memory => String::new(),
        };
        let row = |q: &Quantity| Row {
            name: q.name.clone(),
            unit: q.unit.as_ref().map(|u| u.text.clone()).unwrap_or_else(|| {
                if q.dim.is_dimensionless() {
                    "1".into()
                } else {
                    q.dim.internal_unit_name()
                }
            }),
            default: q
                .value
                .as_ref()
                .map(|v| {
                    c.loaded
                        .sources
                        .snippet(v.span)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|| "(required)".into()),
            doc: q.doc.clone().unwrap_or_default().replace('\n', " "),
        };
        let mut entries = Vec::new();
        for n in &c.program.neurons {
            entries.push(Entry {
                kind: "neuron",
                name: n.name.clone(),
                module: module_of(n.span),
                doc: n.doc.clone(),
                params: n.params.iter().map(row).collect(),
                states: n.states.iter().map(row).collect(),
                inputs: n
                    .inputs
                    .iter()
                    .map(|i| Row {
                        name: i.name.clone(),
                        unit: match i.kind {
                            InputKind::Continuous(_) => i
                                .unit
                                .as_ref()
                                .map(|u| u.text.clone())
                                .unwrap_or_else(|| "1".into()),
                            InputKind::Spikes(_) => format!(
                                "spikes({})",
                                i.unit
                                    .as_ref()
                                    .map(|u| u.text.clone())
                                    .unwrap_or_else(|| "1".into())
                            ),
                        },
                        default: String::new(),
                        doc: i.doc.clone().unwrap_or_default(),
                    })
                    .collect(),
            });
        }
        for s in &c.program.synapses {
            let mut params: Vec<Row> = s.params.iter().map(row).collect();
            params.extend(s.handler_args.iter().map(|q| Row {
                doc: "value of `on pre`, set by the projection".into(),
                default: "(per projection)".into(),
                ..row(q)
            }));
            let mut states: Vec<Row> = s.states.iter().map(row).collect();
            states.extend(s.post_states.iter().map(|q| Row {
                doc: format!("(post state) {}", q.doc.clone().unwrap_or_default()),
                ..row(q)
            }));
            entries.push(Entry {
                kind: "synapse",
                name: s.name.clone(),
                module: module_of(s.span),
                doc: s.doc.clone(),
                params,
                states,
                inputs: s
                    .outputs
                    .iter()
                    .map(|o| Row {
                        name: format!("→ {}", o.input_name),
                        unit: String::new(),
                        default: String::new(),
                        doc: "output into this input of the target neuron".into(),
                    })
                    .collect(),
            });
        }
        entries.sort_by(|a, b| (&a.module, &a.name).cmp(&(&b.module, &b.name)));
        Library { entries }
    }

    /// One line per model: kind, name, module and the first line of its doc.
    pub fn overview(&self) -> String {
        let mut out = String::from("Standard model library (use `nmlc doc NAME` for details)\n\n");
        let width = self.entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
        let module_width = self
            .entries
            .iter()
            .map(|e| e.module.len())
            .max()
            .unwrap_or(0);
        for e in &self.entries {
            let first = e
                .doc
                .as_deref()
                .and_then(|d| d.lines().next())
                .unwrap_or("");
            let _ = writeln!(
                out,
                "{:<7} {:<width$}  {:<module_width$}  {}",
                e.kind, e.name, e.module, first
            );
        }
        out
    }

    /// A model's documentation, parameters, state and inputs; or every model
    /// of a module.
    pub fn detail(&self, name: &str) -> Option<String> {
        let chosen: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.name == name || e.module == name)
            .collect();
        if chosen.is_empty() {
            return None;
        }
        let mut out = String::new();
        for e in chosen {
            let _ = writeln!(out, "{} {}  ({})\n", e.kind, e.name, e.module);
            if let Some(d) = &e.doc {
                let _ = writeln!(out, "{d}\n");
            }
            let _ = writeln!(out, "import {}\n", e.module);
            for (title, rows) in [
                ("Parameters", &e.params),
                ("State", &e.states),
                ("Inputs / outputs", &e.inputs),
            ] {
                if rows.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "{title}:");
                let w0 = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
                let w1 = rows.iter().map(|r| r.unit.len()).max().unwrap_or(0);
                let w2 = rows.iter().map(|r| r.default.len()).max().unwrap_or(0);
                for r in rows {
                    let line = format!(
                        "  {:<w0$}  {:<w1$}  {:<w2$}  {}",
                        r.name, r.unit, r.default, r.doc
                    );
                    let _ = writeln!(out, "{}", line.trim_end());
                }
                out.push('\n');
            }
        }
        Some(out)
    }

    /// " (did you mean …?)" for an unknown name, or nothing.
    pub fn suggest(&self, name: &str) -> String {
        let names = self.entries.iter().map(|e| e.name.as_str());
        crate::names::did_you_mean_note(name, names)
    }
}
