//! Calls: the built-in functions of LANGUAGE.md §4 and inlined user functions.

use crate::lowerer::{Lowerer, plural, were};
use crate::scope::{Local, Resolved, Symbol};
use crate::value::{Axis, Tensor, Value, describe_shape};
use gradc_graph::Op;
use gradc_graph::tensor::{FoldOp, TOp};
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
            return self.map1(op, &tensors[0]);
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
                let fold = if name == "max" {
                    FoldOp::Max
                } else {
                    FoldOp::Min
                };
                self.fold(fold, v)
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
                    Some(slope) => slope.clone(),
                    None => {
                        let node = self.constant(if op == Op::LeakyRelu { 0.01 } else { 1.0 });
                        Tensor::plain(node, Vec::new())
                    }
                };
                let own = t.shape.clone();
                self.map_values(op, &[t, &slope], &own)
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
                self.contract_values(u, &[0], Some((v, &[0])), &[], Vec::new())
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
                    "logsumexp" => self.fold(FoldOp::LogSumExp, v),
                    "softmax" => {
                        let Value::Tensor(lse) = self.fold(FoldOp::LogSumExp, v) else {
                            return Value::Error;
                        };
                        let own = v.shape.clone();
                        let Value::Tensor(shifted) = self.map_values(Op::Sub, &[v, &lse], &own)
                        else {
                            return Value::Error;
                        };
                        self.map1(Op::Exp, &shifted)
                    }
                    _ => {
                        let two = Tensor::plain(self.constant(2.0), Vec::new());
                        let own = v.shape.clone();
                        let Value::Tensor(squares) = self.map_values(Op::Pow, &[v, &two], &own)
                        else {
                            return Value::Error;
                        };
                        let Value::Tensor(total) = self.sum_own(&squares) else {
                            return Value::Error;
                        };
                        self.map1(Op::Sqrt, &total)
                    }
                }
            }
            _ => Value::Error,
        }
    }

    /// `max`, `min` or `logsumexp` of a value's own elements.
    fn fold(&mut self, fold: FoldOp, v: &Tensor) -> Value {
        let node = self.node(
            TOp::Fold {
                op: fold,
                axes: v.shape.len() as u8,
            },
            &[v.node],
        );
        Value::Tensor(Tensor {
            node,
            free: v.free.clone(),
            shape: Vec::new(),
        })
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
        self.map_values(op, &[a, b], &shape)
    }

    /// `sum(v)` / `mean(v)`: the elements of a vector or matrix, else the data rows of a per-row
    /// scalar, else the scalar itself (LANGUAGE.md §4, Rows).
    fn reduce(&mut self, name: &str, v: &Tensor, mark: usize) -> Value {
        let mean = name == "mean";
        if !v.is_scalar() {
            let count = v.len() as f64;
            let Value::Tensor(total) = self.sum_own(v) else {
                return Value::Error;
            };
            if !mean {
                return Value::Tensor(total);
            }
            let count = Tensor::plain(self.constant(count), Vec::new());
            return self.map_values(Op::Div, &[&total, &count], &[]);
        }
        if !self.program.graph.info(v.node).per_row {
            return Value::Tensor(v.clone());
        }
        // The per-row uses inside are reduced now: they are not the objective's problem.
        self.per_row_uses.truncate(mark);
        let op = if mean { TOp::RowMean } else { TOp::RowSum };
        let node = self.node(op, &[v.node]);
        Value::Tensor(Tensor { node, ..v.clone() })
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
        // The body works on scalars: the arguments' own axes become free indices of their own
        // for the body, and the result's again the own axes of the call's value.
        let own_axes: Vec<Axis> = shape
            .iter()
            .map(|&extent| {
                self.next_axis += 1;
                Axis {
                    id: self.next_axis,
                    extent,
                }
            })
            .collect();
        let arguments: Vec<Tensor> = tensors
            .iter()
            .map(|t| {
                let mut free = t.free.clone();
                if !t.is_scalar() {
                    free.extend(&own_axes);
                }
                Tensor {
                    node: t.node,
                    free,
                    shape: Vec::new(),
                }
            })
            .collect();
        // Without own axes the same call gives the same value: inlined once.
        let key = own_axes.is_empty().then(|| {
            let operands = arguments.iter().map(|a| (a.node, a.free.clone())).collect();
            (def.body as *const Expr, operands)
        });
        if let Some(result) = key.as_ref().and_then(|k| self.inlined.get(k)) {
            return Value::Tensor(result.clone());
        }
        let outer_visible = self.scope.visible.replace(def.visible);
        let outer_locals = std::mem::take(&mut self.scope.locals);
        for (param, argument) in def.params.iter().zip(arguments) {
            self.scope
                .locals
                .push((param.name.clone(), Local::Value(Value::Tensor(argument))));
        }
        self.inline_depth += 1;
        let result = self.expr(def.body);
        self.inline_depth -= 1;
        self.scope.locals = outer_locals;
        self.scope.visible = outer_visible;
        let result = match result {
            Value::Tensor(t) if t.is_scalar() => t,
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
                    .with_hint("a `fn` works on scalars and is applied element-wise to vectors"),
                );
                return Value::Error;
            }
            Value::Error => return Value::Error,
        };
        // The own axes back at the end, after the caller's free indices.
        let mut order: Vec<Axis> = result
            .free
            .iter()
            .copied()
            .filter(|a| !own_axes.contains(a))
            .collect();
        let outer_free = order.clone();
        order.extend(&own_axes);
        let Some(node) = self.reorder_exact(&result, &order, &[]) else {
            return Value::Error;
        };
        let value = Tensor {
            node,
            free: outer_free,
            shape,
        };
        if let Some(key) = key {
            self.inlined.insert(key, value.clone());
        }
        Value::Tensor(value)
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
