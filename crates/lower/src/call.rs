//! Calls: the built-in functions of LANGUAGE.md §4 and inlined user functions.

use crate::lowerer::{Lowerer, plural, were};
use crate::scope::{Local, Resolved, Symbol};
use crate::value::{Tensor, Value, describe_shape};
use gradc_graph::{NodeId, Op};
use gradc_syntax::ast::{Expr, ExprKind, Ident};
use gradc_syntax::{Diagnostic, codes};

/// How deeply user functions may call each other: each level recurses over a whole body, so
/// this (with the parser's nesting limit) bounds the stack.
const MAX_INLINE_DEPTH: usize = 64;

/// Every built-in function name, for "did you mean" hints.
pub(crate) const BUILTINS: &[&str] = &[
    "exp",
    "log",
    "sqrt",
    "abs",
    "sin",
    "cos",
    "tan",
    "atan",
    "tanh",
    "sigmoid",
    "relu",
    "softplus",
    "log1p",
    "expm1",
    "max",
    "min",
    "leaky_relu",
    "elu",
    "pow",
    "sum",
    "mean",
    "dot",
    "logsumexp",
    "softmax",
    "norm",
];

/// The element-wise functions of one argument, by name.
fn unary_function(name: &str) -> Option<Op> {
    Some(match name {
        "exp" => Op::Exp,
        "log" => Op::Log,
        "sqrt" => Op::Sqrt,
        "abs" => Op::Abs,
        "sin" => Op::Sin,
        "cos" => Op::Cos,
        "tan" => Op::Tan,
        "atan" => Op::Atan,
        "tanh" => Op::Tanh,
        "sigmoid" => Op::Sigmoid,
        "relu" => Op::Relu,
        "softplus" => Op::Softplus,
        "log1p" => Op::Log1p,
        "expm1" => Op::Expm1,
        _ => return None,
    })
}

/// The operation of a scalar built-in called with `arity` scalar arguments, for constant
/// evaluation.
pub(crate) fn scalar_function(name: &str, arity: usize) -> Option<Op> {
    match (name, arity) {
        (_, 1) if unary_function(name).is_some() => unary_function(name),
        ("max", 2) => Some(Op::Max),
        ("min", 2) => Some(Op::Min),
        ("pow", 2) => Some(Op::Pow),
        ("leaky_relu", 1 | 2) => Some(Op::LeakyRelu),
        ("elu", 1 | 2) => Some(Op::Elu),
        _ => None,
    }
}

/// How many arguments a built-in takes, as `(min, max)` and as written in messages.
fn builtin_arity(name: &str) -> Option<(usize, usize, &'static str)> {
    Some(match name {
        _ if unary_function(name).is_some() => (1, 1, "1 argument"),
        "max" | "min" => (1, 2, "1 argument (a vector) or 2"),
        "leaky_relu" | "elu" => (1, 2, "1 or 2 arguments"),
        "pow" | "dot" => (2, 2, "2 arguments"),
        "sum" | "mean" | "logsumexp" | "softmax" | "norm" => (1, 1, "1 argument"),
        _ => return None,
    })
}

impl<'a> Lowerer<'a> {
    pub fn call(&mut self, expr: &'a Expr, callee: &'a Ident, args: &'a [Expr]) -> Value {
        let name = callee.name.as_str();
        match self.scope.global(name).map(|d| &d.symbol) {
            Some(Symbol::Fn(def)) => {
                let def = def.clone();
                return self.inline(expr, callee, args, def);
            }
            Some(Symbol::Broken) => return Value::Error,
            _ => {}
        }
        let Some((min, max, expected)) = builtin_arity(name) else {
            self.not_a_function(callee);
            return Value::Error;
        };
        if let ("sum" | "mean", [arg]) = (name, args)
            && let ExprKind::Name(index) = &arg.kind
            && matches!(self.scope.resolve(&index.name), Resolved::Missing)
        {
            // Most likely an index sum whose body starts with `-`, which parses as a call
            // followed by a subtraction (so that `sum(v) - 1` means what it says).
            self.report(
                Diagnostic::error(
                    codes::UNDECLARED_NAME,
                    format!("`{}` is not declared", index.name),
                    index.span,
                )
                .with_label("not declared before this use")
                .with_hint(format!(
                    "for a {name} over an index whose body starts with `-`, parenthesize the body: `{name}({}) (-...)`",
                    index.name
                )),
            );
            return Value::Error;
        }
        // Arguments are lowered first so that problems inside them are reported too.
        let mark = self.per_row_uses.len();
        let values: Vec<Value> = args.iter().map(|a| self.expr(a)).collect();
        if args.len() < min || args.len() > max {
            self.report(
                Diagnostic::error(
                    codes::WRONG_ARGUMENT_COUNT,
                    format!(
                        "`{name}` takes {expected} but {} {} given",
                        args.len(),
                        were(args.len())
                    ),
                    expr.span,
                )
                .with_label(format!("{} argument{}", args.len(), plural(args.len())))
                .with_hint(usage(name)),
            );
            return Value::Error;
        }
        let mut tensors = Vec::with_capacity(values.len());
        for value in values {
            match value {
                Value::Tensor(t) => tensors.push(t),
                Value::Error => return Value::Error,
            }
        }
        if let Some(op) = unary_function(name) {
            return self.map(&Value::Tensor(tensors.swap_remove(0)), |this, a| {
                this.node(op, &[a])
            });
        }
        match (name, tensors.as_slice()) {
            ("sum" | "mean", [v]) => self.reduce(name, v, mark),
            ("max" | "min", [v]) => {
                if v.is_scalar() {
                    self.expected_vector(
                        name,
                        &args[0],
                        &v.shape,
                        "use `max(a, b)` for the larger of two values",
                    );
                    return Value::Error;
                }
                let op = if name == "max" { Op::Max } else { Op::Min };
                let first = v.nodes[0];
                let folded = v.nodes[1..]
                    .iter()
                    .fold(first, |acc, &n| self.node(op, &[acc, n]));
                Value::scalar(folded)
            }
            ("max" | "min" | "pow", [a, b]) => {
                let op = match name {
                    "max" => Op::Max,
                    "min" => Op::Min,
                    _ => Op::Pow,
                };
                self.elementwise2(op, name, a, b, args, expr)
            }
            ("leaky_relu" | "elu", [t, rest @ ..]) => {
                let op = if name == "leaky_relu" {
                    Op::LeakyRelu
                } else {
                    Op::Elu
                };
                let slope = match rest.first() {
                    Some(slope) if !slope.is_scalar() => {
                        self.report(
                            Diagnostic::error(
                                codes::EXPECTED_SCALAR,
                                format!("the second argument of `{name}` must be a scalar, but it is {}", describe_shape(&slope.shape)),
                                args[1].span,
                            )
                            .with_label("expected a scalar")
                            .with_hint(format!("`{name}(t, a)` applies one slope `a` to every element of `t`")),
                        );
                        return Value::Error;
                    }
                    Some(slope) => slope.nodes[0],
                    None => self.constant(if op == Op::LeakyRelu { 0.01 } else { 1.0 }),
                };
                self.map(&Value::Tensor(t.clone()), |this, a| {
                    this.node(op, &[a, slope])
                })
            }
            ("dot", [u, v]) => {
                for (tensor, arg) in [(u, &args[0]), (v, &args[1])] {
                    if tensor.shape.len() != 1 {
                        self.expected_vector(
                            name,
                            arg,
                            &tensor.shape,
                            "`dot(u, v)` multiplies two vectors element by element and sums",
                        );
                        return Value::Error;
                    }
                }
                let operands = [(u, args[0].span), (v, args[1].span)];
                if self
                    .broadcast_shape(&operands, expr.span, "`dot`")
                    .is_none()
                {
                    return Value::Error;
                }
                let terms: Vec<NodeId> = u
                    .nodes
                    .iter()
                    .zip(&v.nodes)
                    .map(|(&a, &b)| self.node(Op::Mul, &[a, b]))
                    .collect();
                Value::scalar(self.sum_of(&terms))
            }
            ("logsumexp" | "softmax" | "norm", [v]) => {
                if v.is_scalar() || (name == "softmax" && v.shape.len() != 1) {
                    self.expected_vector(
                        name,
                        &args[0],
                        &v.shape,
                        if v.is_scalar() {
                            "it combines the elements of a vector"
                        } else {
                            "`softmax` works on one vector; apply it to a row, such as `softmax(W[0])`"
                        },
                    );
                    return Value::Error;
                }
                match name {
                    "logsumexp" => Value::scalar(self.node(Op::LogSumExp, &v.nodes)),
                    "softmax" => {
                        let lse = self.node(Op::LogSumExp, &v.nodes);
                        self.map(&Value::Tensor(v.clone()), |this, a| {
                            let shifted = this.node(Op::Sub, &[a, lse]);
                            this.node(Op::Exp, &[shifted])
                        })
                    }
                    _ => {
                        let two = self.constant(2.0);
                        let squares: Vec<NodeId> = v
                            .nodes
                            .iter()
                            .map(|&a| self.node(Op::Pow, &[a, two]))
                            .collect();
                        let total = self.sum_of(&squares);
                        Value::scalar(self.node(Op::Sqrt, &[total]))
                    }
                }
            }
            _ => Value::Error,
        }
    }

    fn elementwise2(
        &mut self,
        op: Op,
        name: &str,
        a: &Tensor,
        b: &Tensor,
        args: &[Expr],
        expr: &Expr,
    ) -> Value {
        let operands = [(a, args[0].span), (b, args[1].span)];
        let Some(shape) = self.broadcast_shape(&operands, expr.span, &format!("`{name}`")) else {
            return Value::Error;
        };
        self.zip(shape, &[a, b], |this, args| this.node(op, args))
    }

    /// `sum(v)` / `mean(v)`: the elements of a vector or matrix, else the data rows of a per-row
    /// scalar, else the scalar itself (LANGUAGE.md §4, Rows).
    fn reduce(&mut self, name: &str, v: &Tensor, mark: usize) -> Value {
        let mean = name == "mean";
        if !v.is_scalar() {
            let total = self.sum_of(&v.nodes);
            if !mean {
                return Value::scalar(total);
            }
            let count = self.constant(v.nodes.len() as f64);
            return Value::scalar(self.node(Op::Div, &[total, count]));
        }
        let node = v.nodes[0];
        if !self.program.graph.flags(node).per_row {
            return Value::scalar(node);
        }
        // The per-row uses inside are reduced now: they are not the objective's problem.
        self.per_row_uses.truncate(mark);
        let op = if mean { Op::RowMean } else { Op::RowSum };
        Value::scalar(self.node(op, &[node]))
    }

    fn expected_vector(&mut self, name: &str, arg: &Expr, shape: &[usize], why: &str) {
        self.report(
            Diagnostic::error(
                codes::EXPECTED_VECTOR,
                format!("`{name}` needs a vector"),
                arg.span,
            )
            .with_label(format!("this is {}", describe_shape(shape)))
            .with_hint(why.to_string()),
        );
    }

    fn not_a_function(&mut self, callee: &Ident) {
        let diagnostic = match self.scope.resolve(&callee.name) {
            Resolved::Local(_) | Resolved::Global(_) => {
                let kind = match self.scope.resolve(&callee.name) {
                    Resolved::Global(declared) => declared.symbol.kind_name(),
                    _ => "a local name",
                };
                Diagnostic::error(
                    codes::NOT_A_FUNCTION,
                    format!("`{}` is {kind}, not a function", callee.name),
                    callee.span,
                )
                .with_label("called here")
                .with_hint("to multiply, write `*` explicitly: `w * (x + 1)`")
            }
            Resolved::Missing => {
                let functions: Vec<&str> = self
                    .scope
                    .globals
                    .iter()
                    .filter(|(_, d)| matches!(d.symbol, Symbol::Fn(_)))
                    .map(|(n, _)| n.as_str())
                    .chain(BUILTINS.iter().copied())
                    .collect();
                let hint = match crate::scope::closest(&callee.name, functions.into_iter()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "define it first with `fn name(a, b) = expression`".to_string(),
                };
                Diagnostic::error(
                    codes::UNKNOWN_FUNCTION,
                    format!("unknown function `{}`", callee.name),
                    callee.span,
                )
                .with_label("not a built-in or declared function")
                .with_hint(hint)
            }
        };
        self.report(diagnostic);
    }

    /// Inlines a user function, element-wise over vector arguments.
    fn inline(
        &mut self,
        expr: &'a Expr,
        callee: &Ident,
        args: &'a [Expr],
        def: crate::scope::FnDef<'a>,
    ) -> Value {
        let values: Vec<Value> = args.iter().map(|a| self.expr(a)).collect();
        if args.len() != def.params.len() {
            let expected = def.params.len();
            let names: Vec<&str> = def.params.iter().map(|p| p.name.as_str()).collect();
            self.report(
                Diagnostic::error(
                    codes::WRONG_ARGUMENT_COUNT,
                    format!(
                        "`{}` takes {expected} argument{} but {} {} given",
                        callee.name,
                        plural(expected),
                        args.len(),
                        were(args.len())
                    ),
                    expr.span,
                )
                .with_label(format!("{} argument{}", args.len(), plural(args.len())))
                .with_hint(format!(
                    "call it as `{}({})`",
                    callee.name,
                    names.join(", ")
                )),
            );
            return Value::Error;
        }
        if def.broken {
            return Value::Error;
        }
        if self.inline_depth >= MAX_INLINE_DEPTH {
            self.report(
                Diagnostic::error(
                    codes::NESTED_TOO_DEEPLY,
                    "function calls nested too deeply",
                    expr.span,
                )
                .with_label(format!("more than {MAX_INLINE_DEPTH} calls deep"))
                .with_hint("functions are inlined; split the computation with `let`"),
            );
            return Value::Error;
        }
        let mut tensors = Vec::with_capacity(values.len());
        for value in values {
            match value {
                Value::Tensor(t) => tensors.push(t),
                Value::Error => return Value::Error,
            }
        }
        let operands: Vec<(&Tensor, gradc_syntax::Span)> =
            tensors.iter().zip(args).map(|(t, a)| (t, a.span)).collect();
        let Some(shape) = self.broadcast_shape(&operands, expr.span, &format!("`{}`", callee.name))
        else {
            return Value::Error;
        };
        let len: usize = shape.iter().product();
        let outer_visible = self.scope.visible.replace(def.visible);
        let outer_locals = std::mem::take(&mut self.scope.locals);
        let mut nodes = Vec::with_capacity(len);
        let mut failed = false;
        self.inline_depth += 1;
        for k in 0..len {
            let arguments: Vec<NodeId> = tensors.iter().map(|t| t.element(k)).collect();
            let key = (def.body as *const Expr, arguments);
            if let Some(&node) = self.inlined.get(&key) {
                nodes.push(node);
                continue;
            }
            for (param, &element) in def.params.iter().zip(&key.1) {
                self.scope
                    .locals
                    .push((param.name.clone(), Local::Value(Value::scalar(element))));
            }
            let result = self.expr(def.body);
            self.scope.locals.clear();
            match result {
                Value::Tensor(t) if t.is_scalar() => {
                    self.inlined.insert(key, t.nodes[0]);
                    nodes.push(t.nodes[0]);
                }
                Value::Tensor(t) => {
                    self.report(
                        Diagnostic::error(
                            codes::EXPECTED_SCALAR,
                            format!(
                                "`{}` must return a scalar, but its body is {}",
                                callee.name,
                                describe_shape(&t.shape)
                            ),
                            def.body.span,
                        )
                        .with_label(format!("this is {}", describe_shape(&t.shape)))
                        .with_hint(
                            "a `fn` works on scalars and is applied element-wise to vectors",
                        ),
                    );
                    failed = true;
                    break;
                }
                Value::Error => {
                    failed = true;
                    break;
                }
            }
        }
        self.inline_depth -= 1;
        self.scope.locals = outer_locals;
        self.scope.visible = outer_visible;
        if failed {
            return Value::Error;
        }
        Value::Tensor(Tensor { shape, nodes })
    }

    /// Resolves the names in a function body at its declaration, so that mistakes are reported
    /// even if it is never called. Returns whether all names resolve.
    pub fn check_function_body(
        &mut self,
        function: &Ident,
        params: &'a [Ident],
        body: &'a Expr,
        visible: usize,
    ) -> bool {
        let outer_visible = self.scope.visible.replace(visible);
        let mut bound: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        let ok = self.check_names(function, body, &mut bound);
        self.scope.visible = outer_visible;
        ok
    }

    fn check_names(&mut self, function: &Ident, expr: &'a Expr, bound: &mut Vec<&'a str>) -> bool {
        match &expr.kind {
            ExprKind::Name(name) => {
                if bound.contains(&name.name.as_str()) {
                    return true;
                }
                match self.scope.global(&name.name).map(|d| &d.symbol) {
                    Some(Symbol::Fn(_)) => {
                        self.not_a_value(name);
                        false
                    }
                    Some(Symbol::Broken) => false,
                    Some(_) => true,
                    None => {
                        self.undeclared(name);
                        false
                    }
                }
            }
            ExprKind::Call { callee, args } => {
                let mut ok = true;
                if callee.name == function.name {
                    ok = false;
                    self.report(
                        Diagnostic::error(
                            codes::RECURSIVE_FUNCTION,
                            format!("`{}` calls itself", callee.name),
                            callee.span,
                        )
                        .with_label("recursive call")
                        .with_secondary(function.span, "in its own definition")
                        .with_hint(
                            "functions are inlined at each call, so they cannot be recursive",
                        ),
                    );
                } else if !matches!(
                    self.scope.global(&callee.name).map(|d| &d.symbol),
                    Some(Symbol::Fn(_))
                ) && builtin_arity(&callee.name).is_none()
                {
                    ok = false;
                    self.not_a_function(callee);
                }
                for arg in args {
                    ok &= self.check_names(function, arg, bound);
                }
                ok
            }
            ExprKind::IndexReduce { index, body, .. } => {
                bound.push(index.name.as_str());
                let ok = self.check_names(function, body, bound);
                bound.pop();
                ok
            }
            ExprKind::Index { base, index } => {
                let mut ok = self.check_names(function, base, bound);
                match &index.kind {
                    ExprKind::Name(name)
                        if !bound.contains(&name.name.as_str())
                            && self.scope.global(&name.name).is_none() =>
                    {
                        self.unbound_index(name);
                        ok = false;
                    }
                    _ => ok &= self.check_names(function, index, bound),
                }
                ok
            }
            _ => {
                let mut ok = true;
                for child in expr.children() {
                    ok &= self.check_names(function, child, bound);
                }
                ok
            }
        }
    }
}

/// How a built-in is called, for hints.
fn usage(name: &str) -> String {
    match name {
        "max" | "min" => format!(
            "write `{name}(a, b)` for two values or `{name}(v)` for the elements of a vector"
        ),
        "leaky_relu" | "elu" => format!("write `{name}(t)` or `{name}(t, slope)`"),
        "pow" => "write `pow(a, b)` or `a ^ b`".to_string(),
        "dot" => "write `dot(u, v)` for two vectors of equal length".to_string(),
        _ => format!("write `{name}(x)`"),
    }
}
