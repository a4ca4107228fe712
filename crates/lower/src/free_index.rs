//! Free indices: `let v[i] = body` and `sum(i) body`. An index ranges over the extent of what
//! it indexes (`W1[i][j]` makes `i` range over the rows of `W1`); every use must agree.
//!
//! The extent is inferred from the syntax before the index is bound: each `base[i]` site
//! contributes the first extent of `base`, computed from declared shapes for index chains on
//! names, or by lowering `base` when it does not depend on any unbound name.

use crate::lowerer::{Lowerer, MAX_ELEMENTS};
use crate::scope::{Local, Resolved, Symbol};
use crate::value::{Tensor, Value};
use gradc_graph::{NodeId, Op};
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
        let mut terms: Vec<Tensor> = Vec::with_capacity(extent);
        for position in 0..extent {
            self.scope
                .locals
                .push((index.name.clone(), Local::Index(position)));
            let value = self.expr(body);
            self.scope.locals.pop();
            match value {
                Value::Tensor(tensor) if terms.first().is_none_or(|t| t.shape == tensor.shape) => {
                    terms.push(tensor);
                }
                _ => return Value::Error,
            }
        }
        let Some(first) = terms.first() else {
            return Value::Error;
        };
        let shape = first.shape.clone();
        let len = first.nodes.len();
        let count = (reduction == Reduction::Mean).then(|| self.constant(extent as f64));
        let mut nodes = Vec::with_capacity(len);
        for k in 0..len {
            let elements: Vec<NodeId> = terms.iter().map(|t| t.nodes[k]).collect();
            let total = self.sum_of(&elements);
            nodes.push(match count {
                Some(count) => self.node(Op::Div, &[total, count]),
                None => total,
            });
        }
        Value::Tensor(Tensor { shape, nodes })
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
        let total: usize = extents.iter().product();
        let mut element_shape: Option<Vec<usize>> = None;
        let mut nodes = Vec::new();
        for flat in 0..total {
            // Row-major: the last index varies fastest.
            let mut rest = flat;
            let mut positions = vec![0; extents.len()];
            for (slot, extent) in positions.iter_mut().zip(&extents).rev() {
                *slot = rest % extent;
                rest /= extent;
            }
            for (index, position) in indices.iter().zip(&positions) {
                self.scope
                    .locals
                    .push((index.name.clone(), Local::Index(*position)));
            }
            let value = self.expr(body);
            self.scope
                .locals
                .truncate(self.scope.locals.len() - indices.len());
            let Value::Tensor(tensor) = value else {
                return Value::Error;
            };
            let shape = element_shape.get_or_insert_with(|| tensor.shape.clone());
            if *shape != tensor.shape {
                return Value::Error;
            }
            if extents.len() + shape.len() > 2
                || total.saturating_mul(tensor.nodes.len()) > MAX_ELEMENTS
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
            nodes.extend(tensor.nodes);
        }
        let mut shape = extents;
        shape.extend(element_shape.unwrap_or_default());
        Value::Tensor(Tensor { shape, nodes })
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
                Resolved::Local(Local::Index(_)) => Some(Vec::new()),
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
