//! Lowering expressions: names, arithmetic with broadcasting, `@`, indexing, `if`, and the
//! element-wise unrolling of vectors and matrices into scalar graph nodes.

use crate::constant::cmp_op;
use crate::lowerer::Lowerer;
use crate::scope::{Local, Resolved, Symbol};
use crate::value::{Axis, Tensor, Value, describe_shape};
use gradc_graph::Op;
use gradc_graph::tensor::{Axes, Contraction, TOp};
use gradc_syntax::ast::{BinaryOp, Expr, ExprKind, Ident};
use gradc_syntax::{Diagnostic, Span, codes};

impl<'a> Lowerer<'a> {
    /// Lowers an expression. Reports problems and returns [`Value::Error`] for them.
    pub fn expr(&mut self, expr: &'a Expr) -> Value {
        let outer = std::mem::replace(&mut self.current_span, expr.span);
        let value = self.expr_inner(expr);
        self.current_span = outer;
        value
    }

    fn expr_inner(&mut self, expr: &'a Expr) -> Value {
        match &expr.kind {
            ExprKind::Number(value) => Value::scalar(self.constant(*value)),
            ExprKind::Name(name) => self.name(name),
            ExprKind::Neg(operand) => match self.expr(operand) {
                Value::Tensor(t) => self.map1(Op::Neg, &t),
                Value::Error => Value::Error,
            },
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => {
                let a = self.expr(lhs);
                let b = self.expr(rhs);
                let (Value::Tensor(a), Value::Tensor(b)) = (a, b) else {
                    return Value::Error;
                };
                let graph_op = match op {
                    BinaryOp::Add => Op::Add,
                    BinaryOp::Sub => Op::Sub,
                    BinaryOp::Mul => Op::Mul,
                    BinaryOp::Div => Op::Div,
                    BinaryOp::Pow => Op::Pow,
                    BinaryOp::MatMul => return self.matmul(&a, &b, *op_span, lhs.span, rhs.span),
                };
                let operands = [(&a, lhs.span), (&b, rhs.span)];
                let Some(shape) =
                    self.broadcast_shape(&operands, *op_span, &format!("`{}`", op.symbol()))
                else {
                    return Value::Error;
                };
                self.map_values(graph_op, &[&a, &b], &shape)
            }
            // Reported by the parser; a comparison has no value outside an `if` condition.
            ExprKind::Compare { .. } | ExprKind::Error => Value::Error,
            ExprKind::Call { callee, args } => self.call(expr, callee, args),
            ExprKind::Index { base, index } => self.index(base, index),
            ExprKind::IndexReduce {
                reduction,
                index,
                body,
            } => self.index_reduce(*reduction, index, body),
            ExprKind::If {
                condition,
                then_branch,
                else_branch,
            } => {
                let ExprKind::Compare {
                    op,
                    op_span,
                    lhs,
                    rhs,
                } = &condition.kind
                else {
                    // Reported by the parser.
                    return Value::Error;
                };
                let a = self.expr(lhs);
                let b = self.expr(rhs);
                let then_value = self.expr(then_branch);
                let else_value = self.expr(else_branch);
                let (Value::Tensor(a), Value::Tensor(b), Value::Tensor(t), Value::Tensor(e)) =
                    (a, b, then_value, else_value)
                else {
                    return Value::Error;
                };
                let operands = [
                    (&a, lhs.span),
                    (&b, rhs.span),
                    (&t, then_branch.span),
                    (&e, else_branch.span),
                ];
                let Some(shape) = self.broadcast_shape(&operands, *op_span, "`if`") else {
                    return Value::Error;
                };
                let cmp = Op::Cmp(cmp_op(*op));
                let condition_span = condition.span;
                let outer = std::mem::replace(&mut self.current_span, condition_span);
                let Value::Tensor(c) = self.map_values(cmp, &[&a, &b], &shape) else {
                    return Value::Error;
                };
                self.current_span = outer;
                self.map_values(Op::If, &[&c, &t, &e], &shape)
            }
        }
    }

    /// A name used as a value.
    fn name(&mut self, name: &'a Ident) -> Value {
        let value = match self.scope.resolve(&name.name) {
            Resolved::Local(Local::Value(value)) => return value.clone(),
            // A free index used as a number is its position.
            Resolved::Local(Local::Position(position)) => {
                let position = *position as f64;
                return Value::scalar(self.constant(position));
            }
            Resolved::Local(Local::Axis(axis)) => {
                let axis = *axis;
                let node = self.leaf(|graph| graph.iota(axis.extent));
                return Value::Tensor(Tensor {
                    node,
                    free: vec![axis],
                    shape: Vec::new(),
                });
            }
            Resolved::Global(declared) => match &declared.symbol {
                Symbol::Predefined(v) | Symbol::Const(v) => {
                    let v = *v;
                    return Value::scalar(self.constant(v));
                }
                Symbol::Param(value) | Symbol::Input(value) | Symbol::Let(value) => value.clone(),
                Symbol::Fn(_) => {
                    self.not_a_value(name);
                    return Value::Error;
                }
                Symbol::Broken => return Value::Error,
            },
            Resolved::Missing => {
                self.undeclared(name);
                return Value::Error;
            }
        };
        if self.is_per_row(&value) {
            self.per_row_uses.push(name.span);
        }
        value
    }

    pub fn undeclared(&mut self, name: &Ident) {
        let diagnostic = Diagnostic::error(
            codes::UNDECLARED_NAME,
            format!("`{}` is not declared", name.name),
            name.span,
        )
        .with_label("not declared before this use");
        let later = self.declarations.get(name.name.as_str()).copied();
        let diagnostic = match (later, self.scope.suggest(&name.name, &[])) {
            (Some(declaration), _) if declaration.start > name.span.start => diagnostic
                .with_secondary(declaration, "declared here, after the use")
                .with_hint("names are declared before they are used; move the declaration up"),
            (_, Some(suggestion)) => diagnostic.with_hint(format!("did you mean `{suggestion}`?")),
            _ => diagnostic.with_hint(
                "names are declared (with `input`, `param`, `const`, `let` or `fn`) before they are used",
            ),
        };
        self.report(diagnostic);
    }

    pub fn not_a_value(&mut self, name: &Ident) {
        self.report(
            Diagnostic::error(
                codes::NOT_A_VALUE,
                format!("`{}` is a function, not a value", name.name),
                name.span,
            )
            .with_label("used as a value")
            .with_hint(format!("call it: `{}(...)`", name.name)),
        );
    }

    // Element-wise helpers.

    /// The common shape of element-wise operands (equal shapes; scalars broadcast), or `None`
    /// after reporting the mismatch at `at`.
    pub fn broadcast_shape(
        &mut self,
        operands: &[(&Tensor, Span)],
        at: Span,
        what: &str,
    ) -> Option<Vec<usize>> {
        let mut shape: Option<(&Vec<usize>, Span)> = None;
        for (tensor, span) in operands {
            if tensor.is_scalar() {
                continue;
            }
            match shape {
                None => shape = Some((&tensor.shape, *span)),
                Some((first, first_span)) if *first != tensor.shape => {
                    self.report(
                        Diagnostic::error(
                            codes::SHAPE_MISMATCH,
                            format!(
                                "mismatched shapes for {what}: {} and {}",
                                describe_shape(first),
                                describe_shape(&tensor.shape)
                            ),
                            at,
                        )
                        .with_label("element-wise operation on different shapes")
                        .with_secondary(first_span, format!("this is {}", describe_shape(first)))
                        .with_secondary(*span, format!("this is {}", describe_shape(&tensor.shape)))
                        .with_hint(
                            "element-wise operations need equal shapes, or a scalar on one side",
                        ),
                    );
                    return None;
                }
                Some(_) => {}
            }
        }
        Some(shape.map(|(s, _)| s.clone()).unwrap_or_default())
    }

    fn matmul(&mut self, a: &Tensor, b: &Tensor, at: Span, a_span: Span, b_span: Span) -> Value {
        // (rows of the result, shared dimension, columns of the result); a vector on the left
        // is a row vector and one on the right a column vector, as in numpy.
        let dims = match (a.shape.as_slice(), b.shape.as_slice()) {
            ([m, n], [k]) if n == k => Some((*m, *n, None)),
            ([n], [k, p]) if n == k => Some((1, *n, Some(*p))),
            ([m, n], [k, p]) if n == k => Some((*m, *n, Some(*p))),
            _ => None,
        };
        let Some((m, _shared, p)) = dims else {
            let hint = match (a.shape.len(), b.shape.len()) {
                (1, 1) => "for the dot product of two vectors, write `dot(u, v)`".to_string(),
                (0, _) | (_, 0) => "to multiply by a scalar, write `*`".to_string(),
                _ => "the number of columns on the left must equal the number of rows on the right"
                    .to_string(),
            };
            self.report(
                Diagnostic::error(
                    codes::MATMUL_SHAPE,
                    format!(
                        "cannot multiply {} by {} with `@`",
                        describe_shape(&a.shape),
                        describe_shape(&b.shape)
                    ),
                    at,
                )
                .with_label("shapes do not multiply")
                .with_secondary(a_span, format!("this is {}", describe_shape(&a.shape)))
                .with_secondary(b_span, format!("this is {}", describe_shape(&b.shape)))
                .with_hint(hint),
            );
            return Value::Error;
        };
        // `A @ v` is `ij,j->i`, `u @ B` is `j,jk->k`, `A @ B` is `ij,jk->ik`.
        let (a_own, b_own, out_own, shape): (&[u8], &[u8], &[u8], Vec<usize>) =
            match (a.shape.len(), p) {
                (2, None) => (&[0, 1], &[1], &[0], vec![m]),
                (1, Some(p)) => (&[1], &[1, 2], &[2], vec![p]),
                (_, p) => (&[0, 1], &[1, 2], &[0, 2], vec![m, p.unwrap_or(1)]),
            };
        self.contract_values(a, a_own, Some((b, b_own)), out_own, shape)
    }

    // Indexing.

    fn index(&mut self, base: &'a Expr, index: &'a Expr) -> Value {
        let base_value = self.expr(base);
        let selector = self.index_position(index);
        let (Value::Tensor(tensor), Some(selector)) = (base_value, selector) else {
            return Value::Error;
        };
        let Some((&extent, rest)) = tensor.shape.split_first() else {
            let diagnostic = if let ExprKind::Index { .. } = base.kind {
                let root = root_name(base);
                Diagnostic::error(codes::TOO_MANY_INDICES, "too many indices", index.span)
                    .with_label("one index too many")
                    .with_secondary(base.span, "this is already a scalar")
                    .with_hint(match root {
                        Some(name) => format!("`{name}` has fewer dimensions than indices"),
                        None => "a vector takes one index and a matrix two".to_string(),
                    })
            } else {
                Diagnostic::error(codes::INDEX_ON_SCALAR, "cannot index a scalar", index.span)
                    .with_label("index on a scalar")
                    .with_secondary(base.span, "this is a scalar")
                    .with_hint("only vectors and matrices have elements")
            };
            self.report(diagnostic);
            return Value::Error;
        };
        let position = match selector {
            Selector::Position(position) => position,
            Selector::Axis(axis) => return self.index_with_axis(&tensor, axis),
        };
        if position >= extent {
            let what = match &base.kind {
                ExprKind::Name(name) => format!("`{}`", name.name),
                _ => "this".to_string(),
            };
            self.report(
                Diagnostic::error(
                    codes::INDEX_OUT_OF_RANGE,
                    format!(
                        "index {position} is out of range for {what} with {extent} element{}",
                        crate::lowerer::plural(extent)
                    ),
                    index.span,
                )
                .with_label("out of range")
                .with_secondary(
                    base.span,
                    format!(
                        "this has {extent} element{}",
                        crate::lowerer::plural(extent)
                    ),
                )
                .with_hint(format!(
                    "indices count from 0, so the last one is {}",
                    extent.saturating_sub(1)
                )),
            );
            return Value::Error;
        }
        let node = self.node(
            TOp::Index {
                axis: tensor.free.len() as u8,
                position: position as u32,
            },
            &[tensor.node],
        );
        Value::Tensor(Tensor {
            node,
            free: tensor.free.clone(),
            shape: rest.to_vec(),
        })
    }

    /// `base[i]` for a free index `i`: the first own axis of `base` becomes the free index
    /// (or, when `base` already varies along `i`, the diagonal is taken).
    fn index_with_axis(&mut self, tensor: &Tensor, axis: Axis) -> Value {
        let rest = tensor.shape[1..].to_vec();
        let Some(existing) = tensor.free.iter().position(|f| *f == axis) else {
            let mut free = tensor.free.clone();
            free.push(axis);
            return Value::Tensor(Tensor {
                node: tensor.node,
                free,
                shape: rest,
            });
        };
        let n = tensor.free.len() as u8;
        let own: Vec<u8> = (0..rest.len() as u8).map(|k| n + k).collect();
        let mut labels: Vec<u8> = (0..n).collect();
        labels.push(existing as u8);
        labels.extend(&own);
        let out: Vec<u8> = (0..n).chain(own.iter().copied()).collect();
        let (Some(a), Some(out)) = (Axes::new(&labels), Axes::new(&out)) else {
            return Value::Error;
        };
        let spec = Contraction { a, b: None, out };
        let node = self.node(TOp::Contract(spec), &[tensor.node]);
        Value::Tensor(Tensor {
            node,
            free: tensor.free.clone(),
            shape: rest,
        })
    }

    /// What an index expression selects: all positions of a free index, or one position (a
    /// constant, or a free index bound to one position).
    fn index_position(&mut self, index: &'a Expr) -> Option<Selector> {
        if let ExprKind::Name(name) = &index.kind {
            match self.scope.resolve(&name.name) {
                Resolved::Local(Local::Axis(axis)) => return Some(Selector::Axis(*axis)),
                Resolved::Local(Local::Position(position)) => {
                    return Some(Selector::Position(*position));
                }
                Resolved::Missing => {
                    self.unbound_index(name);
                    return None;
                }
                _ => {}
            }
        }
        self.constant_integer(index, "an index")
            .map(Selector::Position)
    }

    pub fn unbound_index(&mut self, name: &Ident) {
        self.report(
            Diagnostic::error(codes::UNBOUND_INDEX, format!("index `{}` is not bound", name.name), name.span)
                .with_label("not declared and not bound by `let v[i]` or `sum(i)`")
                .with_hint(format!(
                    "bind it with `let v[{0}] = ...` or `sum({0}) ...`, or index with a number such as `[0]`",
                    name.name
                )),
        );
    }
}

/// What `base[index]` selects along the first own axis of `base`.
#[derive(Clone, Copy)]
enum Selector {
    /// Every position, as the free index.
    Axis(Axis),
    Position(usize),
}

/// The name an index chain starts from: `W` in `W[0][1]`.
fn root_name(expr: &Expr) -> Option<&str> {
    match &expr.kind {
        ExprKind::Name(name) => Some(&name.name),
        ExprKind::Index { base, .. } => root_name(base),
        _ => None,
    }
}
