//! The lowering driver: walks the statements in order, declares names, and fills the
//! [`Program`]. Expressions are in `expr.rs`, calls in `call.rs`, free indices in
//! `free_index.rs`, constants in `constant.rs`, `input` and `param` in `declare.rs`.

use crate::scope::{Declared, FnDef, Scope, Symbol};
use crate::value::{Value, describe_shape};
use gradc_graph::{NodeId, Op, Predict, Program};
use gradc_syntax::ast::{Expr, File, Ident, Stmt, StmtKind};
use gradc_syntax::{Diagnostic, Span, codes};
use std::collections::HashSet;

/// The most elements one value may have once unrolled. Every element is a graph node, so this
/// keeps a typo such as `param W[100000][100000]` from exhausting memory.
pub(crate) const MAX_ELEMENTS: usize = 1 << 20;

pub(crate) struct Lowerer<'a> {
    pub source: &'a str,
    pub program: Program,
    pub scope: Scope<'a>,
    diagnostics: Vec<Diagnostic>,
    /// Expressions are lowered once per element of `let v[i]` and once per call of a function,
    /// so the same problem may be found many times; it is reported once.
    reported: HashSet<Diagnostic>,
    /// The span of the expression being lowered: new graph nodes are attributed to it.
    pub current_span: Span,
    /// Where per-row values were used outside a row reduction, for the `minimize` error.
    pub per_row_uses: Vec<Span>,
    /// How many user function calls are being inlined, one inside the other.
    pub inline_depth: usize,
    /// The first `minimize`, once seen.
    objective: Option<Span>,
    /// The first `data`, once seen.
    data: Option<Span>,
    /// Every name the file declares, with its first declaration: lets "not declared" say when
    /// the declaration merely comes too late.
    pub declarations: std::collections::HashMap<&'a str, Span>,
}

impl<'a> Lowerer<'a> {
    pub fn new(source: &'a str) -> Lowerer<'a> {
        Lowerer {
            source,
            program: Program::default(),
            scope: Scope::new(),
            diagnostics: Vec::new(),
            reported: HashSet::new(),
            current_span: Span::default(),
            per_row_uses: Vec::new(),
            inline_depth: 0,
            objective: None,
            data: None,
            declarations: std::collections::HashMap::new(),
        }
    }

    pub fn run(mut self, file: &'a File) -> (Program, Vec<Diagnostic>) {
        for statement in &file.statements {
            if let Some(name) = statement.kind.declared_name() {
                self.declarations.entry(&name.name).or_insert(name.span);
            }
        }
        for statement in &file.statements {
            self.statement(statement);
        }
        if self.objective.is_none() {
            let end = Span::new(self.source.len(), self.source.len());
            self.report(
                Diagnostic::error(codes::NO_OBJECTIVE, "no `minimize` statement", end)
                    .with_label("the file ends without an objective")
                    .with_hint("add the objective to fit, such as `minimize mean((y - f)^2)`"),
            );
        }
        (self.program, self.diagnostics)
    }

    // Reporting and node creation.

    pub fn report(&mut self, diagnostic: Diagnostic) {
        if self.reported.insert(diagnostic.clone()) {
            self.diagnostics.push(diagnostic);
        }
    }

    /// Adds a graph node, remembering the span of the expression that first created it.
    pub fn node(&mut self, op: Op, args: &[NodeId]) -> NodeId {
        let before = self.program.graph.len();
        let id = self.program.graph.add(op, args);
        if id.index() >= before {
            self.program.spans.insert(id, self.current_span.range());
        }
        id
    }

    pub fn constant(&mut self, value: f64) -> NodeId {
        self.node(Op::constant(value), &[])
    }

    pub fn is_per_row(&self, value: &Value) -> bool {
        match value {
            Value::Error => false,
            Value::Tensor(tensor) => tensor
                .nodes
                .iter()
                .any(|&id| self.program.graph.flags(id).per_row),
        }
    }

    /// The text of a span, for messages.
    pub fn text(&self, span: Span) -> &'a str {
        span.text(self.source)
    }

    // Declarations.

    /// Declares a global name, or reports why it cannot be.
    pub fn declare(&mut self, name: &Ident, symbol: Symbol<'a>) {
        if name.name.is_empty() {
            return;
        }
        if let Some(existing) = self.scope.globals.get(&name.name) {
            let diagnostic = match existing.span {
                None => Diagnostic::error(
                    codes::REDECLARED_PREDEFINED,
                    format!("`{}` is predefined and cannot be redeclared", name.name),
                    name.span,
                )
                .with_label("redeclared here")
                .with_hint(format!(
                    "`{}` is always available; choose another name",
                    name.name
                )),
                Some(first) => Diagnostic::error(
                    codes::REDECLARED_NAME,
                    format!("`{}` is declared twice", name.name),
                    name.span,
                )
                .with_label("declared again here")
                .with_secondary(first, "first declared here")
                .with_hint("names are declared only once; choose another name"),
            };
            self.report(diagnostic);
            return;
        }
        self.scope.globals.insert(
            name.name.clone(),
            Declared {
                symbol,
                span: Some(name.span),
            },
        );
    }

    // Statements.

    fn statement(&mut self, statement: &'a Stmt) {
        if statement.has_error {
            // Already reported by the parser: declare the name so that its uses stay quiet, and
            // count a broken objective as present.
            if let Some(name) = statement.kind.declared_name() {
                self.declare(name, Symbol::Broken);
            }
            if let StmtKind::Minimize { .. } = statement.kind {
                self.objective.get_or_insert(statement.span);
            }
            return;
        }
        self.current_span = statement.span;
        match &statement.kind {
            StmtKind::Data { path } => match self.data {
                Some(first) => self.report(
                    Diagnostic::error(
                        codes::DUPLICATE_DATA,
                        "a second `data` statement",
                        statement.span,
                    )
                    .with_label("second `data`")
                    .with_secondary(first, "the data file is already given here")
                    .with_hint(
                        "a model has one default data file; `--data` chooses another at run time",
                    ),
                ),
                None => {
                    self.data = Some(statement.span);
                    self.program.data_path = Some(path.value.clone());
                }
            },
            StmtKind::Input {
                name,
                shape,
                source,
            } => self.input(name, shape, source),
            StmtKind::Param { name, shape, init } => self.param(name, shape, init),
            StmtKind::Const { name, value } => {
                let symbol = match self.constant_value(value, "a `const`") {
                    Some(v) => Symbol::Const(v),
                    None => Symbol::Broken,
                };
                self.declare(name, symbol);
            }
            StmtKind::Let {
                name,
                indices,
                value,
            } => {
                let lowered = if indices.is_empty() {
                    self.expr(value)
                } else {
                    self.let_elementwise(name, indices, value)
                };
                self.name_nodes(&name.name, &lowered);
                self.declare(name, Symbol::Let(lowered));
            }
            StmtKind::Fn { name, params, body } => self.function(name, params, body),
            StmtKind::Minimize { value } => self.minimize(statement.span, value),
            StmtKind::Predict { name, value } => {
                let lowered = self.expr(value);
                if let Value::Tensor(tensor) = lowered {
                    let name = match (name, &value.kind) {
                        (Some(name), _) => name.name.clone(),
                        (None, gradc_syntax::ast::ExprKind::Name(n)) => n.name.clone(),
                        (None, _) => self.text(value.span).to_string(),
                    };
                    self.program.predicts.push(Predict {
                        name,
                        shape: tensor.shape,
                        nodes: tensor.nodes,
                    });
                }
            }
        }
    }

    /// Records the user's `let` name for the nodes it binds (leaves keep their own names).
    fn name_nodes(&mut self, name: &str, value: &Value) {
        let Value::Tensor(tensor) = value else {
            return;
        };
        for (k, &id) in tensor.nodes.iter().enumerate() {
            if self.program.graph.op(id).is_leaf() || self.program.names.contains_key(&id) {
                continue;
            }
            let element = match tensor.shape.as_slice() {
                [] => name.to_string(),
                [_] => format!("{name}[{k}]"),
                [_, n] => format!("{name}[{}][{}]", k / n, k % n),
                _ => format!("{name}[{k}]"),
            };
            self.program.names.insert(id, element);
        }
    }

    fn minimize(&mut self, span: Span, value: &'a Expr) {
        if let Some(first) = self.objective {
            self.report(
                Diagnostic::error(
                    codes::DUPLICATE_OBJECTIVE,
                    "a second `minimize` statement",
                    span,
                )
                .with_label("second objective")
                .with_secondary(first, "the objective is already given here")
                .with_hint("a model has exactly one objective; add the terms into one `minimize`"),
            );
            return;
        }
        self.objective = Some(span);
        self.per_row_uses.clear();
        let lowered = self.expr(value);
        let Value::Tensor(tensor) = &lowered else {
            return;
        };
        if !tensor.is_scalar() {
            self.report(
                Diagnostic::error(
                    codes::NON_SCALAR_OBJECTIVE,
                    format!(
                        "the objective must be a scalar, but it is {}",
                        describe_shape(&tensor.shape)
                    ),
                    value.span,
                )
                .with_label(format!("this is {}", describe_shape(&tensor.shape)))
                .with_hint("reduce it to one number, for example with `sum(...)` or `mean(...)`"),
            );
            return;
        }
        if self.is_per_row(&lowered) {
            let part = self.per_row_uses.first().copied().unwrap_or(value.span);
            self.report(
                Diagnostic::error(
                    codes::PER_ROW_OBJECTIVE,
                    "the objective depends on the data row outside of a reduction",
                    part,
                )
                .with_label(format!("`{}` has one value per data row", self.text(part)))
                .with_hint("the objective is one number: reduce the per-row part over the rows with `mean(...)` or `sum(...)`"),
            );
            return;
        }
        self.program.objective = tensor.nodes[0];
    }

    fn function(&mut self, name: &'a Ident, params: &'a [Ident], body: &'a Expr) {
        let mut broken = false;
        for (k, param) in params.iter().enumerate() {
            if let Some(first) = params[..k].iter().find(|p| p.name == param.name) {
                broken = true;
                self.report(
                    Diagnostic::error(
                        codes::DUPLICATE_BINDING,
                        format!(
                            "parameter `{}` appears twice in `{}`",
                            param.name, name.name
                        ),
                        param.span,
                    )
                    .with_label("second time")
                    .with_secondary(first.span, "first time")
                    .with_hint("give each parameter its own name"),
                );
            }
        }
        let visible = self.scope.globals.len();
        broken |= !self.check_function_body(name, params, body, visible);
        self.declare(
            name,
            Symbol::Fn(FnDef {
                params,
                body,
                visible,
                broken,
            }),
        );
    }
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(crate) fn were(n: usize) -> &'static str {
    if n == 1 { "was" } else { "were" }
}
