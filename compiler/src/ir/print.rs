//! The readable text form of the IR (`nmlc ir`).

use super::*;
use std::fmt::Write as _;

/// Prints an IR: storage, solver, then each kernel.
pub fn print(ir: &NeuronIr) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "population {} (neuron {}), precision {:?}, dt = {} ms",
        ir.population, ir.model, ir.precision, ir.dt
    );
    let _ = writeln!(
        out,
        "solver {}: {}",
        crate::solvers::solver_name(ir.solver.kind),
        ir.solver.reason
    );
    let _ = writeln!(out, "columns:");
    for (i, c) in ir.columns().iter().enumerate() {
        let _ = writeln!(out, "  [{i}] {} {:?} {:?}", c.name, c.place, c.ty);
    }
    for (f, frame) in ir.frames.iter().enumerate() {
        let _ = writeln!(
            out,
            "  frame{f}: {} stored over its decay {:?} per step (period {} steps)",
            ir.states[frame.state as usize].name,
            frame.decay,
            frame.period()
        );
    }
    for p in &ir.params {
        if let ParamStorage::Constant(v) = p.storage {
            let _ = writeln!(out, "  const {} = {}", p.var.name, v);
        }
    }
    let printer = Printer { ir };
    for (name, block) in [
        ("derive", &ir.derive),
        ("init", &ir.init),
        ("step", &ir.step),
    ] {
        let _ = writeln!(out, "{name}:");
        printer.block(block, 1, &mut out);
    }
    for s in &ir.spike_inputs {
        let targets: Vec<String> = s
            .targets
            .iter()
            .map(|(k, f)| {
                format!(
                    "{} += w * {}",
                    ir.states[*k as usize].name,
                    printer.expr(*f)
                )
            })
            .collect();
        let _ = writeln!(out, "on spike at {}: {}", s.name, targets.join("; "));
    }
    for (v, h) in &ir.observables {
        let _ = writeln!(out, "observable {} = {}", v.name, printer.expr(*h));
    }
    for ode in &ir.odes {
        let _ = writeln!(
            out,
            "ode {}' = {}",
            ir.states[ode.state as usize].name,
            printer.expr(ode.rhs)
        );
    }
    out
}

struct Printer<'a> {
    ir: &'a NeuronIr,
}

impl Printer<'_> {
    fn place(&self, p: Place) -> String {
        match p {
            Place::State(k) => self.ir.states[k as usize].name.clone(),
            Place::Param(k) => format!("param.{}", self.ir.params[k as usize].var.name),
            Place::Derived(k) => format!("derived.{}", self.ir.derived[k as usize].name),
            Place::Input(k) => format!("input.{}", self.ir.inputs[k as usize].name),
            Place::Local(k) => format!("l{k}"),
            Place::Refractory => "refractory_steps".into(),
        }
    }

    fn block(&self, b: &Block, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        for s in &b.0 {
            match s {
                Stmt::Store(p, h) => {
                    let _ = writeln!(out, "{pad}{} = {}", self.place(*p), self.expr(*h));
                }
                Stmt::If(c, a, e) => {
                    let _ = writeln!(out, "{pad}if {} {{", self.expr(*c));
                    self.block(a, depth + 1, out);
                    if !e.0.is_empty() {
                        let _ = writeln!(out, "{pad}}} else {{");
                        self.block(e, depth + 1, out);
                    }
                    let _ = writeln!(out, "{pad}}}");
                }
                Stmt::While {
                    condition,
                    body,
                    max_iterations,
                } => {
                    let _ = writeln!(
                        out,
                        "{pad}while {} (at most {max_iterations}) {{",
                        self.expr(*condition)
                    );
                    self.block(body, depth + 1, out);
                    let _ = writeln!(out, "{pad}}}");
                }
                Stmt::Spike => {
                    let _ = writeln!(out, "{pad}spike");
                }
                Stmt::Integrate => {
                    let _ = writeln!(out, "{pad}integrate");
                }
                Stmt::Propagator {
                    n,
                    a,
                    phi,
                    integral,
                } => {
                    let entries: Vec<String> = a.iter().map(|h| self.expr(*h)).collect();
                    let _ = writeln!(
                        out,
                        "{pad}propagator n={n} A=[{}] -> phi [{}], integral [{}]",
                        entries.join(", "),
                        phi.iter()
                            .map(|p| self.place(*p))
                            .collect::<Vec<_>>()
                            .join(", "),
                        integral
                            .iter()
                            .map(|p| self.place(*p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
        }
    }

    fn expr(&self, h: Handle<Expr>) -> String {
        match self.ir.exprs.get(h) {
            Expr::Real(x) => format!("{x:?}"),
            Expr::Int(i) => format!("{i}i"),
            Expr::Bool(b) => b.to_string(),
            Expr::Load(p) => self.place(*p),
            Expr::Time => "t".into(),
            Expr::Dt => "dt".into(),
            Expr::Index => "i".into(),
            Expr::FrameScale(f) => format!("frame{f}"),
            Expr::Unary(UnaryOp::Neg, x) => format!("-{}", self.expr(*x)),
            Expr::Unary(UnaryOp::Not, x) => format!("!{}", self.expr(*x)),
            Expr::Binary(op, a, b) => {
                let sym = match op {
                    BinaryOp::Add => "+",
                    BinaryOp::Sub => "-",
                    BinaryOp::Mul => "*",
                    BinaryOp::Div => "/",
                    BinaryOp::Rem => "%",
                    BinaryOp::Pow => "^",
                    BinaryOp::Lt => "<",
                    BinaryOp::Le => "<=",
                    BinaryOp::Gt => ">",
                    BinaryOp::Ge => ">=",
                    BinaryOp::Eq => "==",
                    BinaryOp::Ne => "!=",
                    BinaryOp::And => "&&",
                    BinaryOp::Or => "||",
                };
                format!("({} {sym} {})", self.expr(*a), self.expr(*b))
            }
            Expr::Math(m, xs) => {
                let args: Vec<String> = xs.iter().map(|x| self.expr(*x)).collect();
                format!("{}({})", format!("{m:?}").to_lowercase(), args.join(", "))
            }
            Expr::Select(c, a, b) => format!(
                "select({}, {}, {})",
                self.expr(*c),
                self.expr(*a),
                self.expr(*b)
            ),
            Expr::Random(r, k) => format!(
                "{}#{k}",
                if *r == RandomFn::Uniform {
                    "rand"
                } else {
                    "randn"
                }
            ),
            Expr::RoundToInt(x) => format!("round_to_int({})", self.expr(*x)),
        }
    }
}
