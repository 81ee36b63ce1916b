//! Turning diagnostics into miette reports and JSON.

use super::{Diagnostic, Severity};
use crate::source::SourceMap;
use miette::{LabeledSpan, MietteDiagnostic, NamedSource, Report};
use serde::Serialize;

/// A miette report for one diagnostic, with the source it points into.
///
/// Labels in the primary file are drawn on the snippet; a label in another
/// file becomes a line of help naming its file, line and column.
pub fn to_report(d: &Diagnostic, sources: &SourceMap) -> Report {
    let mut m = MietteDiagnostic::new(d.message.clone())
        .with_code(d.code)
        .with_severity(match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        });
    let mut help = d.help.clone().into_iter().collect::<Vec<_>>();
    let Some(primary) = &d.primary else {
        if !help.is_empty() {
            m = m.with_help(help.join("\n"));
        }
        return Report::new(m);
    };
    let file = sources.get(primary.span.file);
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        non_empty(&primary.text),
        (primary.span.start as usize, primary.span.len()),
    )];
    for label in &d.secondary {
        if label.span.file == primary.span.file {
            labels.push(LabeledSpan::new_with_span(
                non_empty(&label.text),
                (label.span.start as usize, label.span.len()),
            ));
        } else {
            let other = sources.get(label.span.file);
            let (line, col) = other.line_col(label.span.start as usize);
            help.push(format!("{}:{line}:{col}: {}", other.name, label.text));
        }
    }
    m = m.with_labels(labels);
    if !help.is_empty() {
        m = m.with_help(help.join("\n"));
    }
    Report::new(m).with_source_code(
        NamedSource::new(file.name.clone(), file.text.to_string()).with_language("nml"),
    )
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// Renders diagnostics as plain text without colour, `width` columns wide:
/// the form used in snapshot tests and when stderr is not a terminal.
pub fn to_plain_text(diagnostics: &[Diagnostic], sources: &SourceMap, width: usize) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(width);
    let mut out = String::new();
    for d in diagnostics {
        let report = to_report(d, sources);
        if handler.render_report(&mut out, report.as_ref()).is_err() {
            out.push_str(&d.message);
        }
        out.push('\n');
    }
    out
}

/// The machine-readable form of a diagnostic (`nmlc check --format json`).
#[derive(Serialize, Debug)]
pub struct JsonDiagnostic {
    /// `nml::…` code.
    pub code: &'static str,
    /// `error` or `warning`.
    pub severity: Severity,
    /// The message.
    pub message: String,
    /// The file of the primary location.
    pub file: Option<String>,
    /// 1-based line of the primary location.
    pub line: Option<usize>,
    /// 1-based column (in characters) of the primary location.
    pub column: Option<usize>,
    /// Byte offsets of the primary location.
    pub span: Option<JsonSpan>,
    /// All labelled locations, primary first.
    pub labels: Vec<JsonLabel>,
    /// The help text.
    pub help: Option<String>,
}

/// A byte range.
#[derive(Serialize, Debug)]
pub struct JsonSpan {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A labelled location.
#[derive(Serialize, Debug)]
pub struct JsonLabel {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Byte range.
    pub span: JsonSpan,
    /// The label's text.
    pub text: String,
}

/// Converts a diagnostic to its JSON form.
pub fn to_json(d: &Diagnostic, sources: &SourceMap) -> JsonDiagnostic {
    let label = |l: &super::Label| {
        let file = sources.get(l.span.file);
        let (line, column) = file.line_col(l.span.start as usize);
        JsonLabel {
            file: file.name.clone(),
            line,
            column,
            span: JsonSpan {
                start: l.span.start as usize,
                end: l.span.end as usize,
            },
            text: l.text.clone(),
        }
    };
    let labels: Vec<JsonLabel> = d.primary.iter().chain(&d.secondary).map(label).collect();
    let first = d.primary.as_ref().map(label);
    JsonDiagnostic {
        code: d.code,
        severity: d.severity,
        message: d.message.clone(),
        file: first.as_ref().map(|l| l.file.clone()),
        line: first.as_ref().map(|l| l.line),
        column: first.as_ref().map(|l| l.column),
        span: first.map(|l| l.span),
        labels,
        help: d.help.clone(),
    }
}
