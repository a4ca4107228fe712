//! Free indices: `let v[i] = body` and `sum(i) body`. An index ranges over the extent of what
//! it indexes (`W1[i][j]` makes `i` range over the rows of `W1`); every use must agree.
//!
//! The extent is inferred from the syntax before the index is bound: each `base[i]` site
//! contributes the first extent of `base`, computed from declared shapes for index chains on
//! names, or by lowering `base` when it does not depend on any unbound name.
//!
//! The body is lowered once, with the index standing for all its positions (an axis of the
//! values it indexes: `W1[i][j] * x[j]` is a matrix over `i` and `j`), so that the graph does not
//! grow with the extent. Only a body that computes with the index inside an index (`v[i + 1]`)
//! is lowered once per position.

use crate::lowerer::{Lowerer, MAX_ELEMENTS};
use crate::scope::{Local, Resolved, Symbol};
use crate::tensors::union_free;
use crate::value::{Axis, Tensor, Value};
use gradc_graph::Op;
use gradc_graph::tensor::{Axes, Contraction, TOp};
use gradc_syntax::ast::{Expr, ExprKind, Ident, Reduction};
use gradc_syntax::{Diagnostic, Span, codes};

/// What binds the free index, for messages.
#[derive(Clone, Copy)]
enum Binder {
    Sum,
    Let,
}

impl<'a> Lowerer<'a> {
    /// `sum(i) body` or `mean(i) body`.
    pub fn index_reduce(
        &mut self,
        reduction: Reduction,
        index: &'a Ident,
        body: &'a Expr,
    ) -> Value {
        if !self.can_bind(index) {
            return Value::Error;
        }
        let Some(extent) = self.infer_extent(index, body, Binder::Sum) else {
            return Value::Error;
        };
        let axis = self.new_axis(extent);
        let values = if needs_positions(&index.name, body) {
            self.per_position(&[(index, axis)], body)
        } else {
            self.scope
                .locals
                .push((index.name.clone(), Local::Axis(axis)));
            let value = self.expr(body);
            self.scope.locals.pop();
            value
        };
        let Value::Tensor(terms) = values else {
            return Value::Error;
        };
        let Value::Tensor(total) = self.sum_over(&terms, axis) else {
            return Value::Error;
        };
        if reduction == Reduction::Sum {
            return Value::Tensor(total);
        }
        let count = Tensor::plain(self.constant(extent as f64), Vec::new());
        let own = total.shape.clone();
        self.map_values(Op::Div, &[&total, &count], &own)
    }

    /// A fresh free index of `extent` positions.
    fn new_axis(&mut self, extent: usize) -> Axis {
        self.next_axis += 1;
        Axis {
            id: self.next_axis,
            extent,
        }
    }

    /// The sum of a value over one of its free indices (a value that does not vary along it is
    /// added `extent` times), in the order of the positions.
    fn sum_over(&mut self, t: &Tensor, axis: Axis) -> Value {
        let mut free = t.free.clone();
        if !free.contains(&axis) {
            free.push(axis);
        }
        let Some(node) = self.reorder_exact(t, &free, &t.shape) else {
            return Value::Error;
        };
        let labels: Vec<u8> = (0..(free.len() + t.shape.len()) as u8).collect();
        let summed = free.iter().position(|f| *f == axis).unwrap_or_default() as u8;
        let out: Vec<u8> = labels.iter().copied().filter(|&l| l != summed).collect();
        let (Some(a), Some(out)) = (Axes::new(&labels), Axes::new(&out)) else {
            return Value::Error;
        };
        let node = self.node(TOp::Contract(Contraction { a, b: None, out }), &[node]);
        free.retain(|f| *f != axis);
        Value::Tensor(Tensor {
            node,
            free,
            shape: t.shape.clone(),
        })
    }

    /// The body once per position of the free indices `bound` (the last varies fastest), as a
    /// value that varies along them: for a body that computes with an index inside an index.
    fn per_position(&mut self, bound: &[(&Ident, Axis)], body: &'a Expr) -> Value {
        let Some(((index, axis), inner)) = bound.split_first() else {
            return self.expr(body);
        };
        let mut slices = Vec::with_capacity(axis.extent);
        for position in 0..axis.extent {
            self.scope
                .locals
                .push((index.name.clone(), Local::Position(position)));
            let value = self.per_position(inner, body);
            self.scope.locals.pop();
            match value {
                Value::Tensor(t) if slices.first().is_none_or(|s: &Tensor| s.shape == t.shape) => {
                    slices.push(t)
                }
                _ => return Value::Error,
            }
        }
        let Some(first) = slices.first() else {
            return Value::Error;
        };
        // Equal free indices and shapes, then a new first axis over the positions.
        let own = first.shape.clone();
        let operands: Vec<&Tensor> = slices.iter().collect();
        let free = union_free(&operands);
        let mut nodes = Vec::with_capacity(slices.len());
        for slice in &slices {
            let Some(node) = self.reorder_exact(slice, &free, &own) else {
                return Value::Error;
            };
            nodes.push(node);
        }
        let node = self.node(TOp::Stack, &nodes);
        let mut with_axis = vec![*axis];
        with_axis.extend(&free);
        Value::Tensor(Tensor {
            node,
            free: with_axis,
            shape: own,
        })
    }

    /// `let v[i][j] = body`: the body once per position, stacked row-major.
    pub fn let_elementwise(&mut self, name: &Ident, indices: &'a [Ident], body: &'a Expr) -> Value {
        let mut extents = Vec::with_capacity(indices.len());
        let mut ok = true;
        for (k, index) in indices.iter().enumerate() {
            if !self.not_predefined(index, "an index name") {
                ok = false;
                continue;
            }
            if let Some(first) = indices[..k].iter().find(|i| i.name == index.name) {
                self.report(
                    Diagnostic::error(
                        codes::DUPLICATE_BINDING,
                        format!("index `{}` is bound twice", index.name),
                        index.span,
                    )
                    .with_label("second time")
                    .with_secondary(first.span, "first time")
                    .with_hint(
                        "use a different name for each dimension, as in `let M[i][j] = ...`",
                    ),
                );
                ok = false;
                continue;
            }
            match self.infer_extent(index, body, Binder::Let) {
                Some(extent) => extents.push(extent),
                None => ok = false,
            }
        }
        if !ok {
            return Value::Error;
        }
        let bound: Vec<(&Ident, Axis)> = indices
            .iter()
            .zip(&extents)
            .map(|(index, &extent)| (index, self.new_axis(extent)))
            .collect();
        let value = if indices.iter().any(|i| needs_positions(&i.name, body)) {
            self.per_position(&bound, body)
        } else {
            for (index, axis) in &bound {
                self.scope
                    .locals
                    .push((index.name.clone(), Local::Axis(*axis)));
            }
            let value = self.expr(body);
            let len = self.scope.locals.len();
            self.scope.locals.truncate(len - bound.len());
            value
        };
        let Value::Tensor(tensor) = value else {
            return Value::Error;
        };
        let total: usize = extents.iter().product();
        if extents.len() + tensor.shape.len() > 2
            || total.saturating_mul(tensor.len()) > MAX_ELEMENTS
        {
            self.report(
                Diagnostic::error(
                    codes::TOO_MANY_DIMENSIONS,
                    format!("`{}` would have more than two dimensions", name.name),
                    name.span,
                )
                .with_label(format!(
                    "{} free indices over a body that is not a scalar",
                    extents.len()
                ))
                .with_hint("values are scalars, vectors or matrices"),
            );
            return Value::Error;
        }
        // The free indices become the value's first axes, in the order they are written.
        let axes: Vec<Axis> = bound.iter().map(|(_, axis)| *axis).collect();
        let Some(node) = self.reorder_exact(&tensor, &axes, &tensor.shape) else {
            return Value::Error;
        };
        let mut shape = extents;
        shape.extend(&tensor.shape);
        Value::plain(node, shape)
    }

    /// A free index may not rebind a name that is already bound locally.
    fn can_bind(&mut self, index: &Ident) -> bool {
        if index.name.is_empty() || !self.not_predefined(index, "an index name") {
            return false;
        }
        if let Resolved::Local(_) = self.scope.resolve(&index.name) {
            self.report(
                Diagnostic::error(
                    codes::DUPLICATE_BINDING,
                    format!("`{}` is already bound here", index.name),
                    index.span,
                )
                .with_label("bound again")
                .with_hint("use a different name for the inner index"),
            );
            return false;
        }
        true
    }

    fn infer_extent(&mut self, index: &Ident, body: &'a Expr, binder: Binder) -> Option<usize> {
        let mut sites = Vec::new();
        let mut mentioned = false;
        let mut rebound = None;
        self.collect_sites(&index.name, body, &mut sites, &mut mentioned, &mut rebound);
        if let Some(inner) = rebound {
            self.report(
                Diagnostic::error(
                    codes::DUPLICATE_BINDING,
                    format!("index `{}` is bound again inside its own scope", index.name),
                    inner,
                )
                .with_label("bound again here")
                .with_secondary(index.span, "first bound here")
                .with_hint("use a different name for the inner index"),
            );
            return None;
        }
        let Some(&(extent, first_span)) = sites.first() else {
            let diagnostic = if mentioned {
                Diagnostic::error(
                    codes::UNKNOWN_EXTENT,
                    format!("cannot infer the range of index `{}`", index.name),
                    index.span,
                )
                .with_label("its range comes from what it indexes")
                .with_secondary(
                    body.span,
                    format!("`{}` is never used directly as an index here", index.name),
                )
                .with_hint(format!(
                    "use it as `v[{}]` somewhere, so that it ranges over the extent of `v`",
                    index.name
                ))
            } else {
                let what = match binder {
                    Binder::Sum => "sum",
                    Binder::Let => "definition",
                };
                Diagnostic::error(
                    codes::UNUSED_INDEX,
                    format!("index `{}` is not used in the body of the {what}", index.name),
                    index.span,
                )
                .with_label("bound here")
                .with_secondary(body.span, format!("this does not use `{}`", index.name))
                .with_hint(match binder {
                    Binder::Sum => format!(
                        "the body of `sum({0}) ...` is one multiplicative term; parenthesize a longer body: `sum({0}) (a[{0}] + b[{0}])`",
                        index.name
                    ),
                    Binder::Let => format!("`let v[{0}] = ...` defines each element from an expression using `{0}`", index.name),
                })
            };
            self.report(diagnostic);
            return None;
        };
        if let Some(&(other, other_span)) = sites.iter().find(|(e, _)| *e != extent) {
            self.report(
                Diagnostic::error(
                    codes::INDEX_EXTENT_CONFLICT,
                    format!(
                        "index `{}` ranges over {extent} here but over {other} there",
                        index.name
                    ),
                    other_span,
                )
                .with_label(format!("indexes {other} elements"))
                .with_secondary(first_span, format!("indexes {extent} elements"))
                .with_hint("every use of one free index must index the same extent"),
            );
            return None;
        }
        Some(extent)
    }

    fn collect_sites(
        &mut self,
        name: &str,
        expr: &'a Expr,
        sites: &mut Vec<(usize, Span)>,
        mentioned: &mut bool,
        rebound: &mut Option<Span>,
    ) {
        match &expr.kind {
            ExprKind::Name(n) if n.name == name => *mentioned = true,
            ExprKind::Index { base, index } => {
                if let ExprKind::Name(n) = &index.kind
                    && n.name == name
                {
                    *mentioned = true;
                    if let Some(&extent) = self.base_shape(base).as_ref().and_then(|s| s.first()) {
                        sites.push((extent, index.span));
                    }
                } else {
                    self.collect_sites(name, index, sites, mentioned, rebound);
                }
                self.collect_sites(name, base, sites, mentioned, rebound);
            }
            ExprKind::IndexReduce { index, .. } if index.name == name => {
                rebound.get_or_insert(index.span);
            }
            _ => {
                for child in expr.children() {
                    self.collect_sites(name, child, sites, mentioned, rebound);
                }
            }
        }
    }

    /// The shape of an indexed expression, when it can be known before the free index is bound.
    fn base_shape(&mut self, base: &'a Expr) -> Option<Vec<usize>> {
        match &base.kind {
            ExprKind::Name(name) => match self.scope.resolve(&name.name) {
                Resolved::Local(Local::Value(Value::Tensor(t))) => Some(t.shape.clone()),
                Resolved::Local(Local::Axis(_) | Local::Position(_)) => Some(Vec::new()),
                Resolved::Global(declared) => match &declared.symbol {
                    Symbol::Param(Value::Tensor(t))
                    | Symbol::Input(Value::Tensor(t))
                    | Symbol::Let(Value::Tensor(t)) => Some(t.shape.clone()),
                    Symbol::Const(_) | Symbol::Predefined(_) => Some(Vec::new()),
                    _ => None,
                },
                _ => None,
            },
            ExprKind::Index { base, .. } => {
                let shape = self.base_shape(base)?;
                shape.split_first().map(|(_, rest)| rest.to_vec())
            }
            _ if self.has_unbound_names(base) => None,
            _ => match self.expr(base) {
                Value::Tensor(t) => Some(t.shape),
                Value::Error => None,
            },
        }
    }

    fn has_unbound_names(&self, expr: &Expr) -> bool {
        match &expr.kind {
            ExprKind::Name(name) => matches!(self.scope.resolve(&name.name), Resolved::Missing),
            ExprKind::IndexReduce { .. } => true,
            _ => expr
                .children()
                .into_iter()
                .any(|child| self.has_unbound_names(child)),
        }
    }
}

/// Whether `body` computes with the index `name` inside an index (`v[i + 1]`, `v[2 * i]`), which
/// needs a position per lowering; `v[i]` and `i` used as a number do not.
fn needs_positions(name: &str, body: &Expr) -> bool {
    let mut stack = vec![body];
    while let Some(expr) = stack.pop() {
        if let ExprKind::Index { base, index } = &expr.kind {
            let bare = matches!(&index.kind, ExprKind::Name(n) if n.name == name);
            if !bare && mentions(name, index) {
                return true;
            }
            stack.push(base);
            continue;
        }
        stack.extend(expr.children());
    }
    false
}

fn mentions(name: &str, expr: &Expr) -> bool {
    let mut stack = vec![expr];
    while let Some(expr) = stack.pop() {
        if matches!(&expr.kind, ExprKind::Name(n) if n.name == name) {
            return true;
        }
        stack.extend(expr.children());
    }
    false
}
