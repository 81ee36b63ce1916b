//! From source text to [`ast::File`]: the only module that names pest types.
//!
//! Parsing never panics and never recurses without bound: the text is first
//! scanned for bracket nesting deeper than [`MAX_NESTING`], expressions are
//! built from the flat operand/operator sequence the grammar yields with an
//! explicit operator stack, and a tree deeper than [`MAX_EXPR_DEPTH`] is
//! refused with a diagnostic. After a syntax error the parser re-parses each
//! top-level item on its own, so that one mistake does not hide the next.

use super::ast::*;
use crate::diagnostics::{Diagnostic, catalog};
use crate::source::{FileId, Span};
use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

#[derive(pest_derive::Parser)]
#[grammar = "syntax/nml.pest"]
struct NmlParser;

/// Deepest bracket nesting accepted (parentheses, brackets, braces, `then`).
pub const MAX_NESTING: usize = 64;

/// Deepest expression tree accepted.
pub const MAX_EXPR_DEPTH: usize = 256;

/// Parses one file. Always returns a tree (possibly missing the items that
/// had errors) and the syntax diagnostics.
pub fn parse_file(file: FileId, text: &str) -> (File, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    if let Some(span) = find_excessive_nesting(file, text) {
        diagnostics.push(catalog::too_deeply_nested(span, MAX_NESTING));
        return (File::default(), diagnostics);
    }
    let mut builder = Builder {
        file,
        text,
        base: 0,
        nesting: 0,
        diagnostics: Vec::new(),
    };
    match NmlParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let file_pair = pairs.next().expect("the file rule always yields one pair");
            let items = file_pair
                .into_inner()
                .filter(|p| p.as_rule() != Rule::EOI)
                .map(|p| builder.item(p))
                .collect();
            diagnostics.append(&mut builder.diagnostics);
            (File { items }, diagnostics)
        }
        Err(error) => {
            diagnostics.push(syntax_error(file, text, 0, &error));
            // Recover: parse each top-level item separately and report the
            // first error of each.
            let mut items = Vec::new();
            let chunks = top_level_chunks(text);
            if chunks.len() > 1 {
                diagnostics.clear();
                for (start, end) in chunks {
                    match NmlParser::parse(Rule::file, &text[start..end]) {
                        Ok(mut pairs) => {
                            let pair = pairs.next().expect("file rule yields one pair");
                            let mut sub = Builder {
                                file,
                                text,
                                base: start,
                                nesting: 0,
                                diagnostics: Vec::new(),
                            };
                            for p in pair.into_inner().filter(|p| p.as_rule() != Rule::EOI) {
                                items.push(sub.item(p));
                            }
                            diagnostics.append(&mut sub.diagnostics);
                        }
                        Err(e) => diagnostics.push(syntax_error(file, text, start, &e)),
                    }
                }
            }
            diagnostics.append(&mut builder.diagnostics);
            (File { items }, diagnostics)
        }
    }
}

/// Finds the first place where brackets nest deeper than [`MAX_NESTING`],
/// skipping comments and strings. pest recurses once per nesting level, so
/// this bound keeps parsing within the stack.
fn find_excessive_nesting(file: FileId, text: &str) -> Option<Span> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut thens = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                thens = 0;
            }
            b'\n' => thens = 0,
            b't' if text[i..].starts_with("then")
                && (i == 0 || !is_ident_byte(bytes[i - 1]))
                && !bytes.get(i + 4).is_some_and(|b| is_ident_byte(*b)) =>
            {
                thens += 1
            }
            _ => {}
        }
        if depth + thens > MAX_NESTING {
            return Some(Span::new(file, i, i + 1));
        }
        i += 1;
    }
    None
}

/// Where a `//` comment starts in one line of code, skipping quoted strings
/// and `/* … */` comments (one that ends on this line counts as closed).
fn line_comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => return Some(i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits the text at lines that start a top-level item (`neuron`, `synapse`,
/// `network`, `function`, `import` at brace depth zero), for error recovery.
fn top_level_chunks(text: &str) -> Vec<(usize, usize)> {
    let mut starts = vec![0];
    let mut depth = 0i64;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let keyword = ["neuron", "synapse", "network", "function", "import"]
            .iter()
            .any(|k| {
                trimmed.starts_with(k)
                    && !trimmed[k.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            });
        if depth <= 0 && keyword && offset > 0 {
            starts.push(offset);
            depth = 0;
        }
        let code = line.split("//").next().unwrap_or("");
        depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
        offset += line.len();
    }
    let mut chunks = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(text.len());
        chunks.push((s, e));
    }
    chunks
}

fn describe_rule(rule: Rule) -> Option<String> {
    let s = match rule {
        Rule::EOI => "end of file",
        // pest names the outermost rule when nothing at all matched.
        Rule::file => "`neuron`, `synapse`, `network`, `function` or `import`",
        Rule::ident | Rule::any_ident | Rule::name => "a name",
        Rule::number | Rule::quantity | Rule::signed_number => "a number",
        Rule::string | Rule::string_inner => return None,
        Rule::expr
        | Rule::paren
        | Rule::if_expr
        | Rule::list
        | Rule::call
        | Rule::index
        | Rule::member
        | Rule::derivative
        | Rule::boolean
        | Rule::range => "an expression",
        Rule::unit_expr
        | Rule::unit_factor
        | Rule::unit_name
        | Rule::unit_one
        | Rule::unit_suffix => "a unit",
        Rule::unit_exponent | Rule::unit_fraction => "an exponent",
        Rule::op_or
        | Rule::op_and
        | Rule::op_eq
        | Rule::op_ne
        | Rule::op_le
        | Rule::op_ge
        | Rule::op_lt
        | Rule::op_gt
        | Rule::op_add
        | Rule::op_sub
        | Rule::op_mul
        | Rule::op_div
        | Rule::op_rem
        | Rule::op_pow => "an operator",
        Rule::op_neg | Rule::op_not | Rule::op_pos => return None,
        Rule::import => "`import`",
        Rule::function => "`function`",
        Rule::neuron => "`neuron`",
        Rule::synapse => "`synapse`",
        Rule::network => "`network`",
        Rule::decl | Rule::decl_name => "a declaration (`name: unit = value`)",
        Rule::input_decl => "an input (`name: unit` or `name: spikes(unit)`)",
        Rule::ode | Rule::alias | Rule::kernel => "an equation",
        Rule::assign | Rule::target => "an assignment",
        Rule::assign_op => "`=`, `+=`, `-=`, `*=` or `/=`",
        Rule::if_stmt => "`if`",
        Rule::let_stmt => "`let`",
        Rule::parameters => "`parameters`",
        Rule::state | Rule::post_state => "`state`",
        Rule::inputs => "`inputs`",
        Rule::equations => "`equations`",
        Rule::spike_rule => "`spike when`",
        Rule::refractory => "`refractory`",
        Rule::on_condition | Rule::on_pre | Rule::on_post => "`on`",
        Rule::output => "`output`",
        Rule::solver => "`solver`",
        Rule::net_assign | Rule::r#override => "`name = value`",
        Rule::connect => "`connect`",
        Rule::connect_synapse => "`synapse = …`",
        Rule::record => "`record`",
        Rule::record_what | Rule::record_spikes | Rule::record_rate => {
            "`spikes`, `rate` or variable names"
        }
        Rule::population_ref => "a population",
        Rule::block | Rule::override_block | Rule::kernel_init | Rule::fn_block => "`{`",
        Rule::extends => "`extends`",
        Rule::clamp => "`clamp(…)`",
        Rule::refractory_when => "`when`",
        Rule::named_arg => "`name = value`",
        Rule::fn_param => "a parameter name",
        Rule::spike_port => "`spikes`",
        Rule::primes => "`'`",
        Rule::import_path => "a module path",
        Rule::unit_op => "`*` or `/`",
        _ => {
            let name = format!("{rule:?}");
            return name.strip_prefix("kw_").map(|k| format!("`{k}`"));
        }
    };
    Some(s.to_string())
}

fn syntax_error(
    file: FileId,
    text: &str,
    base: usize,
    error: &pest::error::Error<Rule>,
) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    } + base;
    let found_end = next_token_end(text, pos);
    let found = if pos >= text.len() {
        Some("the end of the file".to_string())
    } else {
        let tok = &text[pos..found_end];
        // Escape only what would not show (`"` stays `"`).
        let shown: String = tok
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        Some(format!("`{shown}`"))
    };
    let mut expected: Vec<String> = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(|r| describe_rule(*r)).collect()
        }
        ErrorVariant::CustomError { message } => vec![message.clone()],
    };
    expected.sort();
    expected.dedup();
    if expected.len() > 6 {
        // A long list helps nobody; keep the structural expectations.
        expected.retain(|e| !e.starts_with('`') || e == "`}`" || e == "`{`");
        if expected.is_empty() {
            expected.push("a statement".to_string());
        }
    }
    let span = Span::new(file, pos, found_end.max(pos));
    if pos >= text.len() {
        let open = unclosed_brace(text);
        if let Some(open) = open {
            return catalog::unclosed_block(span, Span::new(file, open, open + 1));
        }
    }
    catalog::syntax(span, &expected, found.as_deref())
}

/// The position of the last `{` left open at the end of the text (comments
/// and strings skipped), if any.
fn unclosed_brace(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut open = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => open.push(i),
            b'}' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    open.pop()
}

/// The end of the token starting at `pos`: a word, a number or one character.
fn next_token_end(text: &str, pos: usize) -> usize {
    let rest = match text.get(pos..) {
        Some(r) => r,
        None => return text.len(),
    };
    let mut chars = rest.char_indices();
    match chars.next() {
        None => pos,
        Some((_, c)) if c.is_alphanumeric() || c == '_' => {
            let len = rest
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '.'))
                .map(|(i, _)| i)
                .unwrap_or(rest.len());
            pos + len
        }
        Some((_, c)) => pos + c.len_utf8(),
    }
}

/// Walks pest pairs and builds the AST.
struct Builder<'t> {
    file: FileId,
    /// The whole file (doc comments are read from it).
    text: &'t str,
    /// Offset in `text` of the text pest parsed (non-zero in recovery).
    base: usize,
    /// How many expressions and statements enclose the one being built.
    /// Chains such as `else if … else if …` and `if … then … else ⏎ if …`
    /// escape the bracket pre-scan, so the builder bounds its own recursion.
    nesting: usize,
    diagnostics: Vec<Diagnostic>,
}

/// Pairs that carry meaning: keyword tokens are dropped.
fn significant<'a>(pair: Pair<'a, Rule>) -> impl Iterator<Item = Pair<'a, Rule>> {
    pair.into_inner().filter(|p| !is_keyword(p.as_rule()))
}

fn is_keyword(rule: Rule) -> bool {
    format!("{rule:?}").starts_with("kw_")
}

impl<'t> Builder<'t> {
    /// The span of a pair, without the trailing whitespace and comments
    /// that pest's implicit whitespace leaves at the end of some rules.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let mut text = s.as_str();
        loop {
            let trimmed = text.trim_end();
            if let Some(open) = trimmed.strip_suffix("*/").and_then(|t| t.rfind("/*")) {
                text = &trimmed[..open];
                continue;
            }
            let last_line_start = trimmed.rfind('\n').map(|i| i + 1).unwrap_or(0);
            match line_comment_start(&trimmed[last_line_start..]) {
                Some(at) => text = &trimmed[..last_line_start + at],
                None => {
                    text = trimmed;
                    break;
                }
            }
        }
        let end = s.start() + text.len();
        Span::new(self.file, s.start() + self.base, end + self.base)
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    /// The `///` comment lines right above `start`, or after `end` on the
    /// same line.
    fn doc_comment(&self, start: usize, end: usize) -> Option<String> {
        let before = &self.text[..start.min(self.text.len())];
        let mut lines: Vec<&str> = Vec::new();
        let mut rest = before.trim_end_matches([' ', '\t']);
        // Only whitespace may separate the item from the line above.
        if !(rest.is_empty() || rest.ends_with('\n')) {
            rest = "";
        }
        while let Some(stripped) = rest.strip_suffix('\n') {
            let line_start = stripped.rfind('\n').map(|i| i + 1).unwrap_or(0);
            let line = stripped[line_start..].trim();
            match line.strip_prefix("///") {
                Some(doc) if !doc.starts_with('/') => {
                    lines.push(doc.strip_prefix(' ').unwrap_or(doc));
                    rest = &stripped[..line_start];
                }
                _ => break,
            }
        }
        lines.reverse();
        if lines.is_empty() {
            let after = &self.text[end.min(self.text.len())..];
            let line = after.split('\n').next().unwrap_or("");
            if let Some(idx) = line.find("///") {
                let prefix = &line[..idx];
                if prefix.trim().is_empty() || prefix.trim() == "," || prefix.trim() == ";" {
                    let doc = line[idx + 3..].trim();
                    return (!doc.is_empty()).then(|| doc.to_string());
                }
            }
            return None;
        }
        Some(lines.join("\n").trim_end().to_string())
    }

    fn item(&mut self, pair: Pair<'_, Rule>) -> Item {
        match pair.as_rule() {
            Rule::import => Item::Import(self.import(pair)),
            Rule::function => Item::Function(self.function(pair)),
            Rule::neuron => Item::Model(self.model(pair, ModelKind::Neuron)),
            Rule::synapse => Item::Model(self.model(pair, ModelKind::Synapse)),
            Rule::network => Item::Network(self.network(pair)),
            other => unreachable!("grammar: item cannot be {other:?}"),
        }
    }

    fn import(&mut self, pair: Pair<'_, Rule>) -> Import {
        let span = self.span(&pair);
        let inner = significant(pair)
            .next()
            .expect("grammar: import has a target");
        let target = match inner.as_rule() {
            Rule::string => {
                let s = inner.into_inner().next().map(|p| p.as_str()).unwrap_or("");
                ImportTarget::Path(s.to_string())
            }
            _ => ImportTarget::Module(inner.into_inner().map(|p| self.ident(p)).collect()),
        };
        Import { target, span }
    }

    fn function(&mut self, pair: Pair<'_, Rule>) -> Function {
        let span = self.span(&pair);
        let doc = self.doc_comment(span.start as usize, span.end as usize);
        let mut inner = significant(pair);
        let name = self.ident(inner.next().expect("grammar: function name"));
        let mut params = Vec::new();
        let mut result = None;
        let mut lets = Vec::new();
        let mut body = None;
        for p in inner {
            match p.as_rule() {
                Rule::fn_param => params.push(self.param(p)),
                Rule::unit_expr => result = Some(self.unit_expr(p)),
                Rule::fn_block => {
                    for q in significant(p) {
                        match q.as_rule() {
                            Rule::let_stmt => lets.push(self.stmt(q)),
                            _ => body = Some(self.expr(q)),
                        }
                    }
                }
                Rule::expr => body = Some(self.expr(p)),
                other => unreachable!("grammar: function part {other:?}"),
            }
        }
        Function {
            name,
            params,
            result,
            lets,
            body: body.expect("grammar: function has a body"),
            doc,
            span,
        }
    }

    fn param(&mut self, pair: Pair<'_, Rule>) -> Param {
        let span = self.span(&pair);
        let doc = self.doc_comment(span.start as usize, span.end as usize);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("grammar: param name"));
        let unit = inner.next().map(|u| self.unit_expr(u));
        Param { name, unit, doc }
    }

    fn model(&mut self, pair: Pair<'_, Rule>, kind: ModelKind) -> Model {
        let span = self.span(&pair);
        let doc = self.doc_comment(span.start as usize, span.start as usize);
        let mut inner = significant(pair);
        let name = self.ident(inner.next().expect("grammar: model name"));
        let mut extends = None;
        let mut items = Vec::new();
        for p in inner {
            if p.as_rule() == Rule::extends {
                let base = significant(p).next().expect("grammar: extends name");
                extends = Some(self.ident(base));
            } else {
                items.push(self.model_item(p));
            }
        }
        Model {
            kind,
            name,
            extends,
            items,
            doc,
            span,
        }
    }

    fn decls(&mut self, pair: Pair<'_, Rule>) -> Vec<Decl> {
        significant(pair).map(|p| self.decl(p)).collect()
    }

    fn decl(&mut self, pair: Pair<'_, Rule>) -> Decl {
        let span = self.span(&pair);
        let doc = self.doc_comment(span.start as usize, span.end as usize);
        let mut inner = pair.into_inner();
        let (name, order) = self.name_with_primes(inner.next().expect("grammar: decl name"));
        let mut unit = None;
        let mut value = None;
        for p in inner {
            match p.as_rule() {
                Rule::unit_expr => unit = Some(self.unit_expr(p)),
                _ => value = Some(self.expr(p)),
            }
        }
        Decl {
            name,
            order,
            unit,
            value,
            doc,
            span,
        }
    }

    /// `x`, `x'`, `x''` as an identifier and the number of primes.
    fn name_with_primes(&mut self, pair: Pair<'_, Rule>) -> (Ident, u8) {
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("grammar: name"));
        let order = inner.next().map(|p| p.as_str().len()).unwrap_or(0);
        (name, order.min(u8::MAX as usize) as u8)
    }

    fn model_item(&mut self, pair: Pair<'_, Rule>) -> ModelItem {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::parameters => ModelItem::Parameters(self.decls(pair), span),
            Rule::state => ModelItem::State(self.decls(pair), span),
            Rule::post_state => ModelItem::PostState(self.decls(pair), span),
            Rule::inputs => {
                let inputs = significant(pair).map(|p| self.input_decl(p)).collect();
                ModelItem::Inputs(inputs, span)
            }
            Rule::equations => {
                let eqs = significant(pair).map(|p| self.equation(p)).collect();
                ModelItem::Equations(eqs, span)
            }
            Rule::spike_rule => {
                let mut inner = significant(pair);
                let condition = self.expr(inner.next().expect("grammar: spike condition"));
                let reset = inner.next().map(|b| self.block(b)).unwrap_or_default();
                ModelItem::Spike(SpikeRule {
                    condition,
                    reset,
                    span,
                })
            }
            Rule::refractory => {
                let mut period = None;
                let mut clamp = None;
                for p in significant(pair) {
                    match p.as_rule() {
                        Rule::refractory_when => {
                            let e = significant(p).next().expect("grammar: when condition");
                            period = Some(RefractoryPeriod::When(self.expr(e)));
                        }
                        Rule::clamp => {
                            clamp = Some(significant(p).map(|q| self.ident(q)).collect());
                        }
                        _ => period = Some(RefractoryPeriod::Duration(self.expr(p))),
                    }
                }
                ModelItem::Refractory(Refractory {
                    period: period.expect("grammar: refractory has a period"),
                    clamp,
                    span,
                })
            }
            Rule::on_condition => {
                let mut inner = significant(pair);
                let condition = self.expr(inner.next().expect("grammar: on condition"));
                let body = self.block(inner.next().expect("grammar: on body"));
                ModelItem::OnCondition(OnCondition {
                    condition,
                    body,
                    span,
                })
            }
            Rule::on_pre => ModelItem::OnPre(self.on_pre(pair)),
            Rule::on_post => ModelItem::OnPost(self.on_post(pair)),
            Rule::output => {
                let mut inner = significant(pair);
                let target = self.ident(inner.next().expect("grammar: output target"));
                let value = self.expr(inner.next().expect("grammar: output value"));
                ModelItem::Output(Output {
                    target,
                    value,
                    span,
                })
            }
            Rule::solver => ModelItem::Solver(self.solver(pair)),
            other => unreachable!("grammar: model item {other:?}"),
        }
    }

    fn on_pre(&mut self, pair: Pair<'_, Rule>) -> OnPre {
        let span = self.span(&pair);
        let mut params = Vec::new();
        let mut body = Vec::new();
        for p in significant(pair) {
            match p.as_rule() {
                Rule::fn_param => params.push(self.param(p)),
                _ => body = self.block(p),
            }
        }
        OnPre { params, body, span }
    }

    fn on_post(&mut self, pair: Pair<'_, Rule>) -> OnPost {
        let span = self.span(&pair);
        let body = significant(pair)
            .next()
            .map(|b| self.block(b))
            .unwrap_or_default();
        OnPost { body, span }
    }

    fn solver(&mut self, pair: Pair<'_, Rule>) -> SolverChoice {
        let span = self.span(&pair);
        let mut inner = significant(pair);
        let name = self.ident(inner.next().expect("grammar: solver name"));
        let options = inner.map(|p| self.arg(p)).collect();
        SolverChoice {
            name,
            options,
            span,
        }
    }

    fn input_decl(&mut self, pair: Pair<'_, Rule>) -> InputDecl {
        let span = self.span(&pair);
        let doc = self.doc_comment(span.start as usize, span.end as usize);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("grammar: input name"));
        let kind_pair = inner.next().expect("grammar: input kind");
        let kind = match kind_pair.as_rule() {
            Rule::spike_port => {
                InputKind::Spikes(significant(kind_pair).next().map(|u| self.unit_expr(u)))
            }
            _ => InputKind::Continuous(self.unit_expr(kind_pair)),
        };
        InputDecl {
            name,
            kind,
            doc,
            span,
        }
    }

    fn equation(&mut self, pair: Pair<'_, Rule>) -> Equation {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::ode => {
                let mut inner = pair.into_inner();
                let (var, order) = self.name_with_primes(inner.next().expect("grammar: ode lhs"));
                let rhs = self.expr(inner.next().expect("grammar: ode rhs"));
                Equation::Ode {
                    var,
                    order,
                    rhs,
                    span,
                }
            }
            Rule::alias => {
                let mut inner = pair.into_inner();
                let name = self.ident(inner.next().expect("grammar: alias name"));
                let mut unit = None;
                let mut value = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::unit_expr => unit = Some(self.unit_expr(p)),
                        _ => value = Some(self.expr(p)),
                    }
                }
                Equation::Alias {
                    name,
                    unit,
                    value: value.expect("grammar: alias value"),
                    span,
                }
            }
            Rule::kernel => {
                let mut inner = significant(pair);
                let head = inner.next().expect("grammar: kernel name");
                let (name, order) = match head.as_rule() {
                    Rule::derivative => self.name_with_primes(head),
                    _ => (self.ident(head), 0),
                };
                let value = self.expr(inner.next().expect("grammar: kernel value"));
                let init = inner.next().map(|p| self.decls(p)).unwrap_or_default();
                Equation::Kernel {
                    name,
                    order,
                    value,
                    init,
                    span,
                }
            }
            other => unreachable!("grammar: equation {other:?}"),
        }
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Vec<Stmt> {
        significant(pair).map(|p| self.stmt(p)).collect()
    }

    fn stmt(&mut self, pair: Pair<'_, Rule>) -> Stmt {
        if self.nesting >= MAX_EXPR_DEPTH {
            let span = self.span(&pair);
            self.diagnostics
                .push(catalog::too_deeply_nested(span, MAX_EXPR_DEPTH));
            return Stmt::If {
                condition: Expr {
                    kind: ExprKind::Error,
                    span,
                },
                then_body: Vec::new(),
                else_body: Vec::new(),
                span,
            };
        }
        self.nesting += 1;
        let stmt = self.stmt_tree(pair);
        self.nesting -= 1;
        stmt
    }

    fn stmt_tree(&mut self, pair: Pair<'_, Rule>) -> Stmt {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::assign => {
                let mut inner = pair.into_inner();
                let target_pair = inner.next().expect("grammar: assign target");
                let target_span = self.span(&target_pair);
                let t = target_pair.into_inner().next().expect("grammar: target");
                let target = match t.as_rule() {
                    Rule::member => {
                        let mut m = t.into_inner();
                        let object = self.ident(m.next().expect("grammar: member object"));
                        let field = self.ident(m.next().expect("grammar: member field"));
                        Target {
                            object: Some(object),
                            field,
                            span: target_span,
                        }
                    }
                    _ => Target {
                        object: None,
                        field: self.ident(t),
                        span: target_span,
                    },
                };
                let op = match inner.next().expect("grammar: assign op").as_str() {
                    "+=" => AssignOp::Add,
                    "-=" => AssignOp::Sub,
                    "*=" => AssignOp::Mul,
                    "/=" => AssignOp::Div,
                    _ => AssignOp::Set,
                };
                let value = self.expr(inner.next().expect("grammar: assign value"));
                Stmt::Assign {
                    target,
                    op,
                    value,
                    span,
                }
            }
            Rule::let_stmt => {
                let mut inner = significant(pair);
                let name = self.ident(inner.next().expect("grammar: let name"));
                let mut unit = None;
                let mut value = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::unit_expr => unit = Some(self.unit_expr(p)),
                        _ => value = Some(self.expr(p)),
                    }
                }
                Stmt::Let {
                    name,
                    unit,
                    value: value.expect("grammar: let value"),
                    span,
                }
            }
            Rule::if_stmt => {
                let mut inner = significant(pair);
                let condition = self.expr(inner.next().expect("grammar: if condition"));
                let then_body = self.block(inner.next().expect("grammar: if body"));
                let else_body = match inner.next() {
                    None => Vec::new(),
                    Some(p) if p.as_rule() == Rule::if_stmt => vec![self.stmt(p)],
                    Some(p) => self.block(p),
                };
                Stmt::If {
                    condition,
                    then_body,
                    else_body,
                    span,
                }
            }
            other => unreachable!("grammar: statement {other:?}"),
        }
    }

    fn network(&mut self, pair: Pair<'_, Rule>) -> Network {
        let span = self.span(&pair);
        let doc = self.doc_comment(span.start as usize, span.start as usize);
        let mut inner = significant(pair);
        let name = self.ident(inner.next().expect("grammar: network name"));
        let items = inner.map(|p| self.network_item(p)).collect();
        Network {
            name,
            items,
            doc,
            span,
        }
    }

    fn network_item(&mut self, pair: Pair<'_, Rule>) -> NetworkItem {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::parameters => NetworkItem::Parameters(self.decls(pair), span),
            Rule::net_assign => {
                let mut inner = pair.into_inner();
                let name = self.ident(inner.next().expect("grammar: assign name"));
                let value = self.expr(inner.next().expect("grammar: assign value"));
                let overrides = inner.next().map(|b| self.overrides(b));
                NetworkItem::Assign {
                    name,
                    value,
                    overrides,
                    span,
                }
            }
            Rule::connect => NetworkItem::Connect(self.connect(pair)),
            Rule::record => {
                let mut inner = significant(pair);
                let what_pair = inner.next().expect("grammar: record what");
                let mut what_inner = what_pair.into_inner().peekable();
                let what = match what_inner.peek().map(|p| p.as_rule()) {
                    Some(Rule::record_spikes) => RecordWhat::Spikes,
                    Some(Rule::record_rate) => RecordWhat::Rate,
                    _ => RecordWhat::Variables(what_inner.map(|p| self.ident(p)).collect()),
                };
                let of = self.population_ref(inner.next().expect("grammar: record of"));
                let every = inner.next().map(|p| self.expr(p));
                NetworkItem::Record(Record {
                    what,
                    of,
                    every,
                    span,
                })
            }
            other => unreachable!("grammar: network item {other:?}"),
        }
    }

    fn overrides(&mut self, pair: Pair<'_, Rule>) -> Vec<Override> {
        significant(pair).map(|p| self.override_entry(p)).collect()
    }

    fn override_entry(&mut self, pair: Pair<'_, Rule>) -> Override {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("grammar: override name"));
        let value = self.expr(inner.next().expect("grammar: override value"));
        Override { name, value, span }
    }

    fn population_ref(&mut self, pair: Pair<'_, Rule>) -> PopulationRef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("grammar: population name"));
        let selection = inner.next().map(|p| match p.as_rule() {
            Rule::range => {
                let (start, end) = self.range(p);
                Selection::Range(start.map(|b| *b), end.map(|b| *b))
            }
            _ => Selection::Index(self.expr(p)),
        });
        PopulationRef {
            name,
            selection,
            span,
        }
    }

    fn connect(&mut self, pair: Pair<'_, Rule>) -> Connect {
        let span = self.span(&pair);
        let mut inner = significant(pair);
        let source = self.population_ref(inner.next().expect("grammar: connect source"));
        let target = self.population_ref(inner.next().expect("grammar: connect target"));
        let mut connect = Connect {
            source,
            target,
            name: None,
            synapse: None,
            settings: Vec::new(),
            on_pre: None,
            on_post: None,
            span,
        };
        for p in inner {
            match p.as_rule() {
                Rule::ident => connect.name = Some(self.ident(p)),
                Rule::on_pre => {
                    let h = self.on_pre(p);
                    if let Some(first) = &connect.on_pre {
                        self.diagnostics
                            .push(catalog::projection_handler_twice(h.span, first.span, "pre"));
                    } else {
                        connect.on_pre = Some(h);
                    }
                }
                Rule::on_post => {
                    let h = self.on_post(p);
                    if let Some(first) = &connect.on_post {
                        self.diagnostics.push(catalog::projection_handler_twice(
                            h.span, first.span, "post",
                        ));
                    } else {
                        connect.on_post = Some(h);
                    }
                }
                Rule::connect_synapse => {
                    let s_span = self.span(&p);
                    let mut q = significant(p);
                    let model = self.ident(q.next().expect("grammar: synapse model"));
                    let overrides = q.next().map(|b| self.overrides(b)).unwrap_or_default();
                    if let Some(first) = &connect.synapse {
                        self.diagnostics.push(catalog::duplicate_block(
                            s_span,
                            first.span,
                            "`synapse = …` per projection",
                        ));
                    } else {
                        connect.synapse = Some(SynapseUse {
                            model,
                            overrides,
                            span: s_span,
                        });
                    }
                }
                Rule::r#override => {
                    let o = self.override_entry(p);
                    connect.settings.push(o);
                }
                other => unreachable!("grammar: connect item {other:?}"),
            }
        }
        connect
    }

    fn range(&mut self, pair: Pair<'_, Rule>) -> (Option<Box<Expr>>, Option<Box<Expr>>) {
        // `range` is `expr? : expr?`; the colon is a literal, so find which
        // side each expression is on by position.
        let colon = pair
            .as_str()
            .find(':')
            .map(|i| pair.as_span().start() + i)
            .unwrap_or(0);
        let mut start = None;
        let mut end = None;
        for p in pair.into_inner() {
            let before = p.as_span().start() < colon;
            let e = Box::new(self.expr(p));
            if before {
                start = Some(e);
            } else {
                end = Some(e);
            }
        }
        (start, end)
    }

    fn arg(&mut self, pair: Pair<'_, Rule>) -> Arg {
        self.arg_with_depth(pair).0
    }

    fn arg_with_depth(&mut self, pair: Pair<'_, Rule>) -> (Arg, usize) {
        match pair.as_rule() {
            Rule::named_arg => {
                let mut inner = pair.into_inner();
                let name = self.ident(inner.next().expect("grammar: arg name"));
                let (value, d) = self.expr_with_depth(inner.next().expect("grammar: arg value"));
                (
                    Arg {
                        name: Some(name),
                        value,
                    },
                    d,
                )
            }
            _ => {
                let (value, d) = self.expr_with_depth(pair);
                (Arg { name: None, value }, d)
            }
        }
    }

    // ------------------------------------------------------------ units

    fn unit_expr(&mut self, pair: Pair<'_, Rule>) -> UnitExpr {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let mut acc = self.unit_factor(inner.next().expect("grammar: unit factor"));
        while let Some(op) = inner.next() {
            let rhs = self.unit_factor(inner.next().expect("grammar: unit rhs"));
            let kind = if op.as_str() == "*" {
                UnitExprKind::Mul(Box::new(acc), Box::new(rhs))
            } else {
                UnitExprKind::Div(Box::new(acc), Box::new(rhs))
            };
            acc = UnitExpr { kind, span };
        }
        acc.span = span;
        acc
    }

    fn unit_factor(&mut self, pair: Pair<'_, Rule>) -> UnitExpr {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let base_pair = inner.next().expect("grammar: unit base");
        let base = match base_pair.as_rule() {
            Rule::unit_one => UnitExpr {
                kind: UnitExprKind::One,
                span: self.span(&base_pair),
            },
            Rule::unit_name => UnitExpr {
                kind: UnitExprKind::Name(base_pair.as_str().to_string()),
                span: self.span(&base_pair),
            },
            _ => self.unit_expr(base_pair),
        };
        match inner.next() {
            None => base,
            Some(exp) => {
                let (num, den) = self.unit_exponent(exp);
                UnitExpr {
                    kind: UnitExprKind::Pow(Box::new(base), num, den),
                    span,
                }
            }
        }
    }

    /// An exponent as a fraction `num/den`: `2`, `-1`, `0.5`, `(1/2)`.
    fn unit_exponent(&mut self, pair: Pair<'_, Rule>) -> (i32, i32) {
        let span = self.span(&pair);
        let inner = pair.into_inner().next().expect("grammar: exponent");
        let parsed = match inner.as_rule() {
            Rule::unit_fraction => {
                let mut parts = inner.into_inner();
                let num = parts.next().map(|p| p.as_str().parse::<f64>());
                let den = parts.next().map(|p| p.as_str().parse::<f64>());
                match (num, den) {
                    (Some(Ok(n)), Some(Ok(d)))
                        if n.fract() == 0.0 && d.fract() == 0.0 && d != 0.0 =>
                    {
                        Some((n as i32, d as i32))
                    }
                    _ => None,
                }
            }
            _ => match inner.as_str().parse::<f64>() {
                Ok(v) if (v * 2.0).fract() == 0.0 && v.abs() < 100.0 => {
                    if v.fract() == 0.0 {
                        Some((v as i32, 1))
                    } else {
                        Some(((v * 2.0) as i32, 2))
                    }
                }
                _ => None,
            },
        };
        parsed.unwrap_or_else(|| {
            self.diagnostics.push(catalog::unit_power(span));
            (1, 1)
        })
    }

    // ------------------------------------------------------------ expressions

    /// Builds an expression from the flat `prefix* operand (infix prefix*
    /// operand)*` sequence with an explicit operator stack.
    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        self.expr_with_depth(pair).0
    }

    /// An expression and the depth of its tree.
    fn expr_with_depth(&mut self, pair: Pair<'_, Rule>) -> (Expr, usize) {
        if self.nesting >= MAX_EXPR_DEPTH {
            let span = self.span(&pair);
            self.diagnostics
                .push(catalog::too_deeply_nested(span, MAX_EXPR_DEPTH));
            return (
                Expr {
                    kind: ExprKind::Error,
                    span,
                },
                1,
            );
        }
        self.nesting += 1;
        let result = self.expr_tree(pair);
        self.nesting -= 1;
        result
    }

    /// [`Self::expr_with_depth`] below the recursion guard.
    fn expr_tree(&mut self, pair: Pair<'_, Rule>) -> (Expr, usize) {
        let expr_span = self.span(&pair);
        enum Op {
            Prefix(UnaryOp, Span),
            Infix(BinaryOp),
        }
        fn precedence(op: &Op) -> u8 {
            match op {
                Op::Prefix(..) => PREFIX_PRECEDENCE,
                Op::Infix(b) => b.precedence(),
            }
        }
        let mut operands: Vec<(Expr, usize)> = Vec::new();
        let mut operators: Vec<Op> = Vec::new();
        let mut too_deep = false;

        // Applies the operator on top of the stack to the operands.
        let reduce = |operands: &mut Vec<(Expr, usize)>, op: Op, too_deep: &mut bool| {
            match op {
                Op::Prefix(u, span) => {
                    let (e, d) = operands.pop().expect("operand for prefix operator");
                    let span = span.to(e.span);
                    if d + 1 > MAX_EXPR_DEPTH {
                        // Never build the deep tree: dropping it would
                        // recurse once per level.
                        *too_deep = true;
                        operands.push((
                            Expr {
                                kind: ExprKind::Error,
                                span,
                            },
                            1,
                        ));
                        return;
                    }
                    operands.push((
                        Expr {
                            kind: ExprKind::Unary {
                                op: u,
                                operand: Box::new(e),
                            },
                            span,
                        },
                        d + 1,
                    ));
                }
                Op::Infix(b) => {
                    let (rhs, dr) = operands.pop().expect("rhs operand");
                    let (lhs, dl) = operands.pop().expect("lhs operand");
                    let span = lhs.span.to(rhs.span);
                    let d = dl.max(dr) + 1;
                    if d > MAX_EXPR_DEPTH {
                        *too_deep = true;
                        operands.push((
                            Expr {
                                kind: ExprKind::Error,
                                span,
                            },
                            1,
                        ));
                        return;
                    }
                    operands.push((
                        Expr {
                            kind: ExprKind::Binary {
                                op: b,
                                lhs: Box::new(lhs),
                                rhs: Box::new(rhs),
                            },
                            span,
                        },
                        d,
                    ));
                }
            }
        };

        for p in pair.into_inner() {
            let rule = p.as_rule();
            let unary = match rule {
                Rule::op_neg => Some(UnaryOp::Neg),
                Rule::op_pos => Some(UnaryOp::Plus),
                Rule::op_not => Some(UnaryOp::Not),
                _ => None,
            };
            if let Some(u) = unary {
                operators.push(Op::Prefix(u, self.span(&p)));
                continue;
            }
            let binary = match rule {
                Rule::op_or => Some(BinaryOp::Or),
                Rule::op_and => Some(BinaryOp::And),
                Rule::op_eq => Some(BinaryOp::Eq),
                Rule::op_ne => Some(BinaryOp::Ne),
                Rule::op_lt => Some(BinaryOp::Lt),
                Rule::op_le => Some(BinaryOp::Le),
                Rule::op_gt => Some(BinaryOp::Gt),
                Rule::op_ge => Some(BinaryOp::Ge),
                Rule::op_add => Some(BinaryOp::Add),
                Rule::op_sub => Some(BinaryOp::Sub),
                Rule::op_mul => Some(BinaryOp::Mul),
                Rule::op_div => Some(BinaryOp::Div),
                Rule::op_rem => Some(BinaryOp::Rem),
                Rule::op_pow => Some(BinaryOp::Pow),
                _ => None,
            };
            if let Some(b) = binary {
                // Pop operators that bind at least as tightly (strictly
                // tighter for a right-associative operator).
                while let Some(top) = operators.last() {
                    let top_prec = precedence(top);
                    let pops = if b.right_associative() {
                        top_prec > b.precedence()
                    } else {
                        top_prec >= b.precedence()
                    };
                    if !pops {
                        break;
                    }
                    let op = operators.pop().expect("checked non-empty");
                    reduce(&mut operands, op, &mut too_deep);
                }
                operators.push(Op::Infix(b));
                continue;
            }
            let (operand, depth) = self.operand(p);
            if depth > MAX_EXPR_DEPTH {
                too_deep = true;
            }
            operands.push((operand, depth));
        }
        while let Some(op) = operators.pop() {
            reduce(&mut operands, op, &mut too_deep);
        }
        let (mut expr, mut depth) = operands.pop().expect("grammar: expression has an operand");
        if too_deep {
            self.diagnostics
                .push(catalog::too_deeply_nested(expr_span, MAX_EXPR_DEPTH));
            expr = Expr {
                kind: ExprKind::Error,
                span: expr_span,
            };
            depth = 1;
        }
        (expr, depth)
    }

    /// The depth of a list of sub-expressions plus one.
    fn sub_depth(
        &mut self,
        pairs: impl Iterator<Item = (Expr, usize)>,
        out: &mut Vec<Expr>,
    ) -> usize {
        let mut depth = 0;
        for (e, d) in pairs {
            depth = depth.max(d);
            out.push(e);
        }
        depth + 1
    }

    fn operand(&mut self, pair: Pair<'_, Rule>) -> (Expr, usize) {
        let span = self.span(&pair);
        let mut depth = 1;
        let kind = match pair.as_rule() {
            Rule::paren => {
                let inner = pair.into_inner().next().expect("grammar: paren expr");
                let (mut e, d) = self.expr_with_depth(inner);
                e.span = span;
                return (e, d);
            }
            Rule::if_expr => {
                let mut inner = significant(pair);
                let (c, dc) = self.expr_with_depth(inner.next().expect("grammar: if cond"));
                let (a, da) = self.expr_with_depth(inner.next().expect("grammar: then"));
                let (b, db) = self.expr_with_depth(inner.next().expect("grammar: else"));
                depth = dc.max(da).max(db) + 1;
                ExprKind::If {
                    condition: Box::new(c),
                    then_value: Box::new(a),
                    else_value: Box::new(b),
                }
            }
            Rule::list => {
                let items: Vec<(Expr, usize)> =
                    pair.into_inner().map(|p| self.expr_with_depth(p)).collect();
                let mut out = Vec::new();
                depth = self.sub_depth(items.into_iter(), &mut out);
                ExprKind::List(out)
            }
            Rule::quantity => {
                let mut inner = pair.into_inner();
                let num = inner.next().expect("grammar: number");
                let value = match num.as_str().parse::<f64>() {
                    Ok(v) if v.is_finite() => v,
                    _ => {
                        self.diagnostics
                            .push(catalog::invalid_number(self.span(&num)));
                        0.0
                    }
                };
                let unit = inner.next().map(|u| {
                    let u_span = self.span(&u);
                    let mut parts = u.into_inner();
                    let name_pair = parts.next().expect("grammar: unit name");
                    let base = UnitExpr {
                        kind: UnitExprKind::Name(name_pair.as_str().to_string()),
                        span: self.span(&name_pair),
                    };
                    match parts.next() {
                        None => base,
                        Some(exp) => {
                            let (n, d) = self.unit_exponent(exp);
                            UnitExpr {
                                kind: UnitExprKind::Pow(Box::new(base), n, d),
                                span: u_span,
                            }
                        }
                    }
                });
                ExprKind::Number { value, unit }
            }
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::string => {
                let inner = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
                ExprKind::Str(inner.to_string())
            }
            Rule::call => {
                let mut inner = pair.into_inner();
                let func = self.ident(inner.next().expect("grammar: call name"));
                let args: Vec<(Arg, usize)> = inner.map(|p| self.arg_with_depth(p)).collect();
                depth = args.iter().map(|(_, d)| *d).max().unwrap_or(0) + 1;
                ExprKind::Call {
                    func,
                    args: args.into_iter().map(|(a, _)| a).collect(),
                }
            }
            Rule::index => {
                let mut inner = pair.into_inner();
                let base = self.ident(inner.next().expect("grammar: index base"));
                let sel = inner.next().expect("grammar: index selection");
                match sel.as_rule() {
                    Rule::range => {
                        let (start, end) = self.range(sel);
                        ExprKind::Slice { base, start, end }
                    }
                    _ => ExprKind::Index {
                        base,
                        index: Box::new(self.expr(sel)),
                    },
                }
            }
            Rule::member => {
                let mut inner = pair.into_inner();
                let object = self.ident(inner.next().expect("grammar: member object"));
                let field = self.ident(inner.next().expect("grammar: member field"));
                ExprKind::Member { object, field }
            }
            Rule::derivative => {
                let (name, order) = self.name_with_primes(pair);
                ExprKind::Derivative {
                    name: name.name,
                    order,
                }
            }
            Rule::name => ExprKind::Name(pair.as_str().to_string()),
            other => unreachable!("grammar: operand {other:?}"),
        };
        (Expr { kind, span }, depth)
    }
}
