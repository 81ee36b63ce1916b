//! From [`ast::File`](super::ast::File) back to canonical NML text.
//!
//! The printer exists for tests and tools that want to see how the parser
//! understood a file: every binary and unary expression is printed inside its
//! own parentheses, so the output shows how precedence and associativity were
//! resolved (`-x^2` prints as `(-(x ^ 2))`). Everything else is normalised:
//! one declaration or statement per line, four spaces of indentation, `and`,
//! `or`, `not` and `^` for the operators that have two spellings, units as
//! written (`nS/ms`, `(mV*ms)^-1`), doc comments as `///` lines above the item
//! they document. Spans are never printed, so the output depends only on the
//! tree.
//!
//! The output parses back to the same tree (up to spans), which makes
//! `print(parse(print(parse(src)))) == print(parse(src))` a useful property
//! for tests. Where two adjacent constructs would otherwise run together (a
//! number followed on the next line by a bare declaration name would read as
//! a number with a unit) the printer adds a `,` separator.
//!
//! The printer recurses once per level of the tree; the parser bounds that
//! depth ([`MAX_EXPR_DEPTH`](super::MAX_EXPR_DEPTH)).

use super::ast::*;

/// Prints a whole file as canonical NML text.
pub fn print_file(file: &File) -> String {
    let mut printer = Printer::default();
    for (k, item) in file.items.iter().enumerate() {
        if k > 0 {
            printer.out.push('\n');
        }
        printer.print_item(item);
    }
    printer.out
}

/// Prints one expression, fully parenthesised.
pub fn print_expr(expr: &Expr) -> String {
    let mut out = String::new();
    write_expr(expr, &mut out);
    out
}

/// Prints a unit expression as written (`nS/ms`, `ms^(-1/2)`).
pub fn print_unit(unit: &UnitExpr) -> String {
    let mut out = String::new();
    write_unit(unit, &mut out);
    out
}

/// Accumulates lines at the current indentation.
#[derive(Default)]
struct Printer {
    out: String,
    indent: usize,
}

impl Printer {
    /// Writes one line at the current indentation.
    fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// Writes a `///` comment, one line per line of the doc.
    fn print_doc(&mut self, doc: &Option<String>) {
        let Some(doc) = doc else { return };
        for text in doc.split('\n') {
            if text.is_empty() {
                self.line("///");
            } else {
                self.line(&format!("/// {text}"));
            }
        }
    }

    /// Writes `head {`, the body at one more level of indentation, and `}`;
    /// `head {}` when the body writes nothing.
    fn print_braced(&mut self, head: &str, body: impl FnOnce(&mut Printer)) {
        let mark = self.out.len();
        self.line(&format!("{head} {{"));
        let body_start = self.out.len();
        self.indent += 1;
        body(self);
        self.indent -= 1;
        if self.out.len() == body_start {
            self.out.truncate(mark);
            self.line(&format!("{head} {{}}"));
        } else {
            self.line("}");
        }
    }

    fn print_item(&mut self, item: &Item) {
        match item {
            Item::Import(import) => self.print_import(import),
            Item::Function(function) => self.print_function(function),
            Item::Model(model) => self.print_model(model),
            Item::Network(network) => self.print_network(network),
        }
    }

    fn print_import(&mut self, import: &Import) {
        match &import.target {
            ImportTarget::Path(path) => self.line(&format!("import \"{path}\"")),
            ImportTarget::Module(segments) => {
                let path: Vec<&str> = segments.iter().map(|s| s.name.as_str()).collect();
                self.line(&format!("import {}", path.join(".")));
            }
        }
    }

    fn print_function(&mut self, function: &Function) {
        self.print_doc(&function.doc);
        let mut head = format!(
            "function {}({})",
            function.name.name,
            params_text(&function.params)
        );
        if let Some(unit) = &function.result {
            head.push_str(" -> ");
            write_unit(unit, &mut head);
        }
        if function.lets.is_empty() {
            head.push_str(" = ");
            write_expr(&function.body, &mut head);
            self.line(&head);
        } else {
            self.print_braced(&head, |p| {
                p.print_stmts(&function.lets);
                // `let a = 2` followed by a body `a` would read `2 a`.
                if let Some(Stmt::Let { value, .. }) = function.lets.last()
                    && ends_in_bare_number(value)
                {
                    p.append_separator();
                }
                p.line(&print_expr(&function.body));
            });
        }
    }

    fn print_model(&mut self, model: &Model) {
        self.print_doc(&model.doc);
        let mut head = format!("{} {}", model.kind.keyword(), model.name.name);
        if let Some(base) = &model.extends {
            head.push_str(&format!(" extends {}", base.name));
        }
        self.print_braced(&head, |p| {
            for item in &model.items {
                p.print_model_item(item);
            }
        });
    }

    /// Appends `,` to the line just written.
    fn append_separator(&mut self) {
        if self.out.ends_with('\n') {
            self.out.pop();
            self.out.push_str(",\n");
        }
    }

    fn print_model_item(&mut self, item: &ModelItem) {
        match item {
            ModelItem::Parameters(decls, _) => self.print_decl_block("parameters", decls),
            ModelItem::State(decls, _) => self.print_decl_block("state", decls),
            ModelItem::PostState(decls, _) => self.print_decl_block("post state", decls),
            ModelItem::Inputs(inputs, _) => self.print_braced("inputs", |p| {
                for input in inputs {
                    p.print_input_decl(input);
                }
            }),
            ModelItem::Equations(equations, _) => self.print_braced("equations", |p| {
                for equation in equations {
                    p.print_equation(equation);
                }
            }),
            ModelItem::Spike(rule) => self.print_spike_rule(rule),
            ModelItem::Refractory(refractory) => self.print_refractory(refractory),
            ModelItem::OnCondition(handler) => self.print_on_condition(handler),
            ModelItem::OnPre(handler) => self.print_on_pre(handler),
            ModelItem::OnPost(handler) => self.print_on_post(handler),
            ModelItem::Output(output) => self.print_output(output),
            ModelItem::Solver(solver) => self.print_solver(solver),
        }
    }

    fn print_decl_block(&mut self, head: &str, decls: &[Decl]) {
        self.print_braced(head, |p| p.print_decls(decls));
    }

    fn print_decls(&mut self, decls: &[Decl]) {
        for (k, decl) in decls.iter().enumerate() {
            self.print_decl(decl);
            // A bare name after a value could be read as the value's unit.
            let next_is_bare = decls
                .get(k + 1)
                .is_some_and(|next| next.unit.is_none() && next.value.is_none());
            if next_is_bare && decl.value.as_ref().is_some_and(ends_in_bare_number) {
                self.append_separator();
            }
        }
    }

    fn print_decl(&mut self, decl: &Decl) {
        self.print_doc(&decl.doc);
        let head = format!("{}{}", decl.name.name, "'".repeat(decl.order as usize));
        self.line(&binding_text(head, decl.unit.as_ref(), decl.value.as_ref()));
    }

    fn print_input_decl(&mut self, input: &InputDecl) {
        self.print_doc(&input.doc);
        let mut text = format!("{}: ", input.name.name);
        match &input.kind {
            InputKind::Continuous(unit) => write_unit(unit, &mut text),
            InputKind::Spikes(None) => text.push_str("spikes"),
            InputKind::Spikes(Some(unit)) => {
                text.push_str("spikes(");
                write_unit(unit, &mut text);
                text.push(')');
            }
        }
        self.line(&text);
    }

    fn print_equation(&mut self, equation: &Equation) {
        match equation {
            Equation::Ode {
                var, order, rhs, ..
            } => {
                let mut text = format!("{}{} = ", var.name, "'".repeat(*order as usize));
                write_expr(rhs, &mut text);
                self.line(&text);
            }
            Equation::Alias {
                name, unit, value, ..
            } => {
                self.line(&binding_text(name.name.clone(), unit.as_ref(), Some(value)));
            }
            Equation::Kernel {
                name,
                order,
                value,
                init,
                ..
            } => self.print_kernel(name, *order, value, init),
        }
    }

    fn print_kernel(&mut self, name: &Ident, order: u8, value: &Expr, init: &[Decl]) {
        let mut head = format!("kernel {}{} = ", name.name, "'".repeat(order as usize));
        write_expr(value, &mut head);
        if init.is_empty() {
            self.line(&head);
        } else {
            self.print_decl_block(&head, init);
        }
    }

    fn print_spike_rule(&mut self, rule: &SpikeRule) {
        let mut head = "spike when ".to_string();
        write_expr(&rule.condition, &mut head);
        if rule.reset.is_empty() {
            self.line(&head);
        } else {
            self.print_braced(&head, |p| p.print_stmts(&rule.reset));
        }
    }

    fn print_refractory(&mut self, refractory: &Refractory) {
        let mut text = "refractory ".to_string();
        match &refractory.period {
            RefractoryPeriod::Duration(period) => write_expr(period, &mut text),
            RefractoryPeriod::When(condition) => {
                text.push_str("when ");
                write_expr(condition, &mut text);
            }
        }
        if let Some(clamped) = &refractory.clamp {
            let names: Vec<&str> = clamped.iter().map(|n| n.name.as_str()).collect();
            text.push_str(&format!(" clamp({})", names.join(", ")));
        }
        self.line(&text);
    }

    fn print_on_condition(&mut self, handler: &OnCondition) {
        let mut head = "on ".to_string();
        write_expr(&handler.condition, &mut head);
        self.print_braced(&head, |p| p.print_stmts(&handler.body));
    }

    fn print_on_pre(&mut self, handler: &OnPre) {
        let head = if handler.params.is_empty() {
            "on pre".to_string()
        } else {
            format!("on pre({})", params_text(&handler.params))
        };
        self.print_braced(&head, |p| p.print_stmts(&handler.body));
    }

    fn print_on_post(&mut self, handler: &OnPost) {
        self.print_braced("on post", |p| p.print_stmts(&handler.body));
    }

    fn print_output(&mut self, output: &Output) {
        let mut text = format!("output {} = ", output.target.name);
        write_expr(&output.value, &mut text);
        self.line(&text);
    }

    fn print_solver(&mut self, solver: &SolverChoice) {
        let mut text = format!("solver {}", solver.name.name);
        if !solver.options.is_empty() {
            text.push('(');
            write_args(&solver.options, &mut text);
            text.push(')');
        }
        self.line(&text);
    }

    fn print_stmts(&mut self, stmts: &[Stmt]) {
        for stmt in stmts {
            self.print_stmt(stmt);
        }
    }

    fn print_stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Assign {
                target, op, value, ..
            } => {
                let mut text = String::new();
                if let Some(object) = &target.object {
                    text.push_str(&object.name);
                    text.push('.');
                }
                text.push_str(&target.field.name);
                text.push_str(&format!(" {} ", op.symbol()));
                write_expr(value, &mut text);
                self.line(&text);
            }
            Stmt::Let {
                name, unit, value, ..
            } => {
                let head = format!("let {}", name.name);
                self.line(&binding_text(head, unit.as_ref(), Some(value)));
            }
            Stmt::If { .. } => self.print_if_stmt(stmt, "if "),
        }
    }

    /// Prints an `if` statement; `else { if … }` alone prints as `else if`.
    fn print_if_stmt(&mut self, stmt: &Stmt, keyword: &str) {
        let Stmt::If {
            condition,
            then_body,
            else_body,
            ..
        } = stmt
        else {
            return;
        };
        let mut head = keyword.to_string();
        write_expr(condition, &mut head);
        head.push_str(" {");
        self.line(&head);
        self.indent += 1;
        self.print_stmts(then_body);
        self.indent -= 1;
        match else_body.as_slice() {
            [] => self.line("}"),
            [nested @ Stmt::If { .. }] => self.print_if_stmt(nested, "} else if "),
            _ => {
                self.line("} else {");
                self.indent += 1;
                self.print_stmts(else_body);
                self.indent -= 1;
                self.line("}");
            }
        }
    }

    fn print_network(&mut self, network: &Network) {
        self.print_doc(&network.doc);
        self.print_braced(&format!("network {}", network.name.name), |p| {
            for item in &network.items {
                p.print_network_item(item);
            }
        });
    }

    fn print_network_item(&mut self, item: &NetworkItem) {
        match item {
            NetworkItem::Parameters(decls, _) => self.print_decl_block("parameters", decls),
            NetworkItem::Assign {
                name,
                value,
                overrides,
                ..
            } => {
                let mut head = format!("{} = ", name.name);
                write_expr(value, &mut head);
                match overrides {
                    None => self.line(&head),
                    Some(overrides) => self.print_overrides(&head, overrides),
                }
            }
            NetworkItem::Connect(connect) => self.print_connect(connect),
            NetworkItem::Record(record) => self.print_record(record),
        }
    }

    fn print_overrides(&mut self, head: &str, overrides: &[Override]) {
        self.print_braced(head, |p| {
            for entry in overrides {
                p.print_override(entry);
            }
        });
    }

    fn print_override(&mut self, entry: &Override) {
        let mut text = format!("{} = ", entry.name.name);
        write_expr(&entry.value, &mut text);
        self.line(&text);
    }

    /// Prints a projection with its parts in a fixed order: synapse model,
    /// settings, `on pre`, `on post` (the tree does not keep their order).
    fn print_connect(&mut self, connect: &Connect) {
        let mut head = format!(
            "connect {} -> {}",
            population_ref_text(&connect.source),
            population_ref_text(&connect.target)
        );
        if let Some(name) = &connect.name {
            head.push_str(&format!(" as {}", name.name));
        }
        self.print_braced(&head, |p| {
            if let Some(synapse) = &connect.synapse {
                let head = format!("synapse = {}", synapse.model.name);
                if synapse.overrides.is_empty() {
                    p.line(&head);
                } else {
                    p.print_overrides(&head, &synapse.overrides);
                }
            }
            for entry in &connect.settings {
                p.print_override(entry);
            }
            if let Some(handler) = &connect.on_pre {
                p.print_on_pre(handler);
            }
            if let Some(handler) = &connect.on_post {
                p.print_on_post(handler);
            }
        });
    }

    fn print_record(&mut self, record: &Record) {
        let what = match &record.what {
            RecordWhat::Spikes => "spikes".to_string(),
            RecordWhat::Rate => "rate".to_string(),
            RecordWhat::Variables(names) => names
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let mut text = format!("record {what} of {}", population_ref_text(&record.of));
        if let Some(every) = &record.every {
            text.push_str(" every ");
            write_expr(every, &mut text);
        }
        self.line(&text);
    }
}

/// `a: mV, b` for function and handler parameters.
fn params_text(params: &[Param]) -> String {
    let mut text = String::new();
    for (k, param) in params.iter().enumerate() {
        if k > 0 {
            text.push_str(", ");
        }
        text.push_str(&param.name.name);
        if let Some(unit) = &param.unit {
            text.push_str(": ");
            write_unit(unit, &mut text);
        }
    }
    text
}

/// `head: unit = value` with the unit and the value optional.
fn binding_text(head: String, unit: Option<&UnitExpr>, value: Option<&Expr>) -> String {
    let mut text = head;
    if let Some(unit) = unit {
        text.push_str(": ");
        write_unit(unit, &mut text);
    }
    if let Some(value) = value {
        text.push_str(" = ");
        write_expr(value, &mut text);
    }
    text
}

/// `P`, `P[3]`, `P[0:80]`.
fn population_ref_text(population: &PopulationRef) -> String {
    let mut text = population.name.name.clone();
    match &population.selection {
        None => {}
        Some(Selection::Index(index)) => {
            text.push('[');
            write_expr(index, &mut text);
            text.push(']');
        }
        Some(Selection::Range(start, end)) => {
            text.push('[');
            write_range(start.as_ref(), end.as_ref(), &mut text);
            text.push(']');
        }
    }
    text
}

/// Whether the printed expression ends in a number without a unit, which a
/// following name would turn into a number with a unit.
fn ends_in_bare_number(expr: &Expr) -> bool {
    matches!(expr.kind, ExprKind::Number { unit: None, .. })
}

// ---------------------------------------------------------------- expressions

fn write_expr(expr: &Expr, out: &mut String) {
    match &expr.kind {
        ExprKind::Number { value, unit } => write_number(*value, unit.as_ref(), out),
        ExprKind::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        ExprKind::Str(text) => {
            out.push('"');
            out.push_str(text);
            out.push('"');
        }
        ExprKind::Name(name) => out.push_str(name),
        ExprKind::Derivative { name, order } => {
            out.push_str(name);
            out.push_str(&"'".repeat(*order as usize));
        }
        ExprKind::Member { object, field } => {
            out.push_str(&object.name);
            out.push('.');
            out.push_str(&field.name);
        }
        ExprKind::Call { func, args } => {
            out.push_str(&func.name);
            out.push('(');
            write_args(args, out);
            out.push(')');
        }
        ExprKind::Index { base, index } => {
            out.push_str(&base.name);
            out.push('[');
            write_expr(index, out);
            out.push(']');
        }
        ExprKind::Slice { base, start, end } => {
            out.push_str(&base.name);
            out.push('[');
            write_range(start.as_deref(), end.as_deref(), out);
            out.push(']');
        }
        ExprKind::List(items) => {
            out.push('[');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                write_expr(item, out);
            }
            out.push(']');
        }
        ExprKind::Unary { op, operand } => {
            out.push('(');
            out.push_str(match op {
                UnaryOp::Neg => "-",
                UnaryOp::Plus => "+",
                UnaryOp::Not => "not ",
            });
            write_expr(operand, out);
            out.push(')');
        }
        ExprKind::Binary { op, lhs, rhs } => write_binary(*op, lhs, rhs, out),
        ExprKind::If {
            condition,
            then_value,
            else_value,
        } => {
            // Parenthesised because the `else` branch extends as far right
            // as it can.
            out.push_str("(if ");
            write_expr(condition, out);
            out.push_str(" then ");
            write_expr(then_value, out);
            out.push_str(" else ");
            write_expr(else_value, out);
            out.push(')');
        }
        ExprKind::Error => out.push_str("<error>"),
    }
}

fn write_binary(op: BinaryOp, lhs: &Expr, rhs: &Expr, out: &mut String) {
    out.push('(');
    // `(2 mV) ^ 3` must keep its parentheses: `2 mV ^ 3` is the number
    // `2 mV^3`.
    let lhs_is_quantity = matches!(lhs.kind, ExprKind::Number { unit: Some(_), .. });
    if op == BinaryOp::Pow && lhs_is_quantity {
        out.push('(');
        write_expr(lhs, out);
        out.push(')');
    } else {
        write_expr(lhs, out);
    }
    out.push(' ');
    out.push_str(op.symbol());
    out.push(' ');
    write_expr(rhs, out);
    out.push(')');
}

fn write_args(args: &[Arg], out: &mut String) {
    for (k, arg) in args.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        if let Some(name) = &arg.name {
            out.push_str(&name.name);
            out.push_str(" = ");
        }
        write_expr(&arg.value, out);
    }
}

fn write_range(start: Option<&Expr>, end: Option<&Expr>, out: &mut String) {
    if let Some(start) = start {
        write_expr(start, out);
    }
    out.push(':');
    if let Some(end) = end {
        write_expr(end, out);
    }
}

/// A number in the shortest form that reads back to the same `f64`, with
/// an exponent where the plain form would be long (`1e-300`).
fn write_number(value: f64, unit: Option<&UnitExpr>, out: &mut String) {
    let plain = format!("{value}");
    if plain.len() > 12 {
        out.push_str(&format!("{value:e}"));
    } else {
        out.push_str(&plain);
    }
    if let Some(unit) = unit {
        out.push(' ');
        write_unit(unit, out);
    }
}

// ---------------------------------------------------------------- units

fn write_unit(unit: &UnitExpr, out: &mut String) {
    match &unit.kind {
        UnitExprKind::One => out.push('1'),
        UnitExprKind::Name(name) => out.push_str(name),
        UnitExprKind::Mul(lhs, rhs) => {
            write_unit(lhs, out);
            out.push('*');
            write_unit_factor(rhs, out);
        }
        UnitExprKind::Div(lhs, rhs) => {
            write_unit(lhs, out);
            out.push('/');
            write_unit_factor(rhs, out);
        }
        UnitExprKind::Pow(base, num, den) => {
            if matches!(base.kind, UnitExprKind::One | UnitExprKind::Name(_)) {
                write_unit(base, out);
            } else {
                out.push('(');
                write_unit(base, out);
                out.push(')');
            }
            out.push('^');
            if *den == 1 {
                out.push_str(&num.to_string());
            } else {
                out.push_str(&format!("({num}/{den})"));
            }
        }
    }
}

/// The right operand of `*` or `/`: a product or quotient needs parentheses
/// to keep `a/(b*c)` from reading as `(a/b)*c`.
fn write_unit_factor(unit: &UnitExpr, out: &mut String) {
    if matches!(unit.kind, UnitExprKind::Mul(..) | UnitExprKind::Div(..)) {
        out.push('(');
        write_unit(unit, out);
        out.push(')');
    } else {
        write_unit(unit, out);
    }
}
