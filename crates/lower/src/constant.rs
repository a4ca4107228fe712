//! Constant evaluation: `const` values, initial values, distribution arguments, extents, column
//! positions and computed indices. Uses [`Op::apply`], the one definition of every operation's
//! value, so a constant means the same here as at run time.

use crate::lowerer::{Lowerer, MAX_ELEMENTS};
use crate::scope::{Local, Resolved, Symbol};
use gradc_graph::{CmpOp, Op};
use gradc_syntax::ast::{BinaryOp, CompareOp, Expr, ExprKind};
use gradc_syntax::{Diagnostic, codes};

impl<'a> Lowerer<'a> {
    /// The finite value of a constant expression, or `None` after reporting why not. `what`
    /// names the position for messages, such as "an initial value".
    pub fn constant_value(&mut self, expr: &'a Expr, what: &str) -> Option<f64> {
        let value = self.evaluate(expr, what)?;
        if value.is_finite() {
            return Some(value);
        }
        self.report(
            Diagnostic::error(
                codes::NOT_FINITE,
                format!("{what} is not a finite number"),
                expr.span,
            )
            .with_label(format!("this evaluates to {value}"))
            .with_hint("check for a division by zero or an overflow"),
        );
        None
    }

    /// A constant that must be a non-negative integer (a column position or a computed index).
    pub fn constant_integer(&mut self, expr: &'a Expr, what: &str) -> Option<usize> {
        let value = self.constant_value(expr, what)?;
        if value >= 0.0 && value.fract() == 0.0 && value <= u32::MAX as f64 {
            return Some(value as usize);
        }
        self.report(
            Diagnostic::error(
                codes::NON_INTEGER_INDEX,
                format!("{what} must be a non-negative integer, but it is {value}"),
                expr.span,
            )
            .with_label(format!("this is {value}"))
            .with_hint("positions count from 0"),
        );
        None
    }

    /// The extents `[m][n]` of a declaration: positive integers, at most `max_rank` of them.
    pub fn extents(
        &mut self,
        shape: &'a [Expr],
        max_rank: usize,
        what: &str,
    ) -> Option<Vec<usize>> {
        if shape.len() > max_rank {
            let span = shape[max_rank].span.to(shape[shape.len() - 1].span);
            let allowed = if max_rank == 1 {
                "scalar or a vector"
            } else {
                "scalar, a vector or a matrix"
            };
            self.report(
                Diagnostic::error(
                    codes::TOO_MANY_DIMENSIONS,
                    format!(
                        "{what} has at most {max_rank} dimension{}",
                        crate::lowerer::plural(max_rank)
                    ),
                    span,
                )
                .with_label("one dimension too many")
                .with_hint(format!("{what} is a {allowed}")),
            );
            return None;
        }
        let mut dims = Vec::with_capacity(shape.len());
        let mut ok = true;
        for extent in shape {
            let Some(value) = self.constant_value(extent, "an extent") else {
                ok = false;
                continue;
            };
            if value < 1.0 || value.fract() != 0.0 {
                ok = false;
                self.report(
                    Diagnostic::error(
                        codes::BAD_EXTENT,
                        format!("an extent must be a positive integer, but it is {value}"),
                        extent.span,
                    )
                    .with_label(format!("this is {value}"))
                    .with_hint(
                        "shapes count elements: `[4]` is a vector of 4, `[16][2]` a 16×2 matrix",
                    ),
                );
                continue;
            }
            dims.push(value.min(MAX_ELEMENTS as f64 + 1.0) as usize);
        }
        let total = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if ok && total.is_none_or(|t| t > MAX_ELEMENTS) {
            let span = shape[0].span.to(shape[shape.len() - 1].span);
            self.report(
                Diagnostic::error(
                    codes::BAD_EXTENT,
                    format!("{what} is too large to unroll"),
                    span,
                )
                .with_label(format!("more than {MAX_ELEMENTS} elements"))
                .with_hint("every element becomes a node of the expression graph"),
            );
            return None;
        }
        ok.then_some(dims)
    }

    fn evaluate(&mut self, expr: &'a Expr, what: &str) -> Option<f64> {
        match &expr.kind {
            ExprKind::Number(value) => Some(*value),
            ExprKind::Name(name) => {
                let kind = match self.scope.resolve(&name.name) {
                    Resolved::Local(Local::Position(position)) => return Some(*position as f64),
                    Resolved::Local(Local::Axis(_)) => "a free index",
                    Resolved::Local(Local::Value(_)) => "a function parameter",
                    Resolved::Global(declared) => match &declared.symbol {
                        Symbol::Predefined(v) | Symbol::Const(v) => return Some(*v),
                        Symbol::Broken => return None,
                        Symbol::Fn(_) => {
                            self.not_a_value(name);
                            return None;
                        }
                        other => other.kind_name(),
                    },
                    Resolved::Missing => {
                        self.undeclared(name);
                        return None;
                    }
                };
                self.report(
                    Diagnostic::error(
                        codes::NOT_CONSTANT,
                        format!("{what} must be constant, but `{}` is {kind}", name.name),
                        name.span,
                    )
                    .with_label(format!("{kind}, not a constant"))
                    .with_hint("constants are numbers, `pi`, `const` names and arithmetic on them"),
                );
                None
            }
            ExprKind::Neg(operand) => self.evaluate(operand, what).map(|v| Op::Neg.apply(&[v])),
            ExprKind::Binary { op, lhs, rhs, .. } if *op != BinaryOp::MatMul => {
                let a = self.evaluate(lhs, what);
                let b = self.evaluate(rhs, what);
                let op = match op {
                    BinaryOp::Add => Op::Add,
                    BinaryOp::Sub => Op::Sub,
                    BinaryOp::Mul => Op::Mul,
                    BinaryOp::Div => Op::Div,
                    _ => Op::Pow,
                };
                Some(op.apply(&[a?, b?]))
            }
            ExprKind::Call { callee, args } => {
                let op = crate::call::scalar_function(&callee.name, args.len());
                match op {
                    Some(op) if self.scope.global(&callee.name).is_none() => {
                        let mut values = Vec::with_capacity(args.len() + 1);
                        let mut ok = true;
                        for arg in args {
                            match self.evaluate(arg, what) {
                                Some(v) => values.push(v),
                                None => ok = false,
                            }
                        }
                        // The default slopes of `leaky_relu(t)` and `elu(t)`.
                        if values.len() == 1 && op == Op::LeakyRelu {
                            values.push(0.01);
                        } else if values.len() == 1 && op == Op::Elu {
                            values.push(1.0);
                        }
                        ok.then(|| op.apply(&values))
                    }
                    _ => self.not_constant(expr, what),
                }
            }
            ExprKind::If {
                condition,
                then_branch,
                else_branch,
            } => {
                let ExprKind::Compare { op, lhs, rhs, .. } = &condition.kind else {
                    return None;
                };
                let a = self.evaluate(lhs, what);
                let b = self.evaluate(rhs, what);
                let t = self.evaluate(then_branch, what);
                let e = self.evaluate(else_branch, what);
                let holds = cmp_op(*op).holds(a?, b?);
                if holds { t } else { e }
            }
            ExprKind::Error => None,
            _ => self.not_constant(expr, what),
        }
    }

    fn not_constant(&mut self, expr: &Expr, what: &str) -> Option<f64> {
        self.report(
            Diagnostic::error(
                codes::NOT_CONSTANT,
                format!("{what} must be constant"),
                expr.span,
            )
            .with_label("not a constant expression")
            .with_hint("constants are numbers, `pi`, `const` names and scalar arithmetic on them"),
        );
        None
    }
}

pub(crate) fn cmp_op(op: CompareOp) -> CmpOp {
    match op {
        CompareOp::Lt => CmpOp::Lt,
        CompareOp::Le => CmpOp::Le,
        CompareOp::Gt => CmpOp::Gt,
        CompareOp::Ge => CmpOp::Ge,
        CompareOp::Eq => CmpOp::Eq,
        CompareOp::Ne => CmpOp::Ne,
    }
}
