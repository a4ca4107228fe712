//! A deterministic text dump of the syntax tree, pinned by the snapshot tests.
//!
//! One line per statement with its span, expressions as S-expressions: compact enough that a
//! reviewer can check precedence at a glance (`(+ (* a b) c)`).

use crate::ast::Expr;
use crate::ast::{ExprKind, File, InputSource, ParamInit, Reduction, Stmt, StmtKind};
use std::fmt::Write;

/// The dump of a whole file.
pub fn dump_file(file: &File) -> String {
    let mut out = String::new();
    for statement in &file.statements {
        dump_statement(&mut out, statement);
    }
    out
}

fn dump_statement(out: &mut String, statement: &Stmt) {
    let _ = write!(out, "{} ", statement.span);
    if statement.has_error {
        out.push_str("(has error) ");
    }
    match &statement.kind {
        StmtKind::Data { path } => {
            let _ = write!(out, "data {:?}", path.value);
        }
        StmtKind::Input {
            name,
            shape,
            source,
        } => {
            let _ = write!(out, "input {}{}", name.name, dimensions(shape));
            match source {
                InputSource::OwnName => {}
                InputSource::Columns(columns) => {
                    let headers: Vec<String> =
                        columns.iter().map(|c| format!("{:?}", c.header)).collect();
                    let _ = write!(out, " = columns by header {}", headers.join(", "));
                }
                InputSource::Positions { start, end, .. } => {
                    let _ = write!(out, " = columns {}..{}", expr(start), expr(end));
                }
            }
        }
        StmtKind::Param { name, shape, init } => {
            let _ = write!(out, "param {}{}", name.name, dimensions(shape));
            match init {
                ParamInit::Zero => {}
                ParamInit::Value(value) => {
                    let _ = write!(out, " = {}", expr(value));
                }
                ParamInit::Distribution { name, args, .. } => {
                    let args: Vec<String> = args.iter().map(expr).collect();
                    let _ = write!(out, " ~ {}({})", name.name, args.join(", "));
                }
            }
        }
        StmtKind::Const { name, value } => {
            let _ = write!(out, "const {} = {}", name.name, expr(value));
        }
        StmtKind::Let {
            name,
            indices,
            value,
        } => {
            let indices: String = indices.iter().map(|i| format!("[{}]", i.name)).collect();
            let _ = write!(out, "let {}{} = {}", name.name, indices, expr(value));
        }
        StmtKind::Fn { name, params, body } => {
            let params: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            let _ = write!(
                out,
                "fn {}({}) = {}",
                name.name,
                params.join(", "),
                expr(body)
            );
        }
        StmtKind::Minimize { value } => {
            let _ = write!(out, "minimize {}", expr(value));
        }
        StmtKind::Predict { name, value } => {
            out.push_str("predict ");
            if let Some(name) = name {
                let _ = write!(out, "{} = ", name.name);
            }
            out.push_str(&expr(value));
        }
    }
    out.push('\n');
}

fn dimensions(shape: &[Expr]) -> String {
    shape.iter().map(|e| format!("[{}]", expr(e))).collect()
}

/// An expression as an S-expression.
pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Number(value) => format!("{value}"),
        ExprKind::Name(name) => name.name.clone(),
        ExprKind::Neg(operand) => format!("(neg {})", expr(operand)),
        ExprKind::Binary { op, lhs, rhs, .. } => {
            format!("({} {} {})", op.symbol(), expr(lhs), expr(rhs))
        }
        ExprKind::Compare { op, lhs, rhs, .. } => {
            format!("({} {} {})", op.symbol(), expr(lhs), expr(rhs))
        }
        ExprKind::Call { callee, args } => {
            let mut text = format!("(call {}", callee.name);
            for arg in args {
                text.push(' ');
                text.push_str(&expr(arg));
            }
            text.push(')');
            text
        }
        ExprKind::Index { base, index } => format!("(index {} {})", expr(base), expr(index)),
        ExprKind::IndexReduce {
            reduction,
            index,
            body,
        } => {
            let keyword = match reduction {
                Reduction::Sum => "sum",
                Reduction::Mean => "mean",
            };
            format!("({keyword}-over {} {})", index.name, expr(body))
        }
        ExprKind::If {
            condition,
            then_branch,
            else_branch,
        } => format!(
            "(if {} {} {})",
            expr(condition),
            expr(then_branch),
            expr(else_branch)
        ),
        ExprKind::Error => "<error>".to_string(),
    }
}
