//! The lowering driver: walks the statements in order, declares names, and fills the
//! [`Program`]. Expressions are in `expr.rs`, calls in `call.rs`, free indices in
//! `free_index.rs`, constants in `constant.rs`, `input` and `param` in `declare.rs`.

use crate::scope::{Declared, FnDef, Scope, Symbol};
use crate::value::{Value, describe_shape};
use gradc_graph::tensor::{TId, TOp, TPredict, TensorProgram};
use gradc_syntax::ast::{Expr, File, Ident, Stmt, StmtKind};
use gradc_syntax::{Diagnostic, Span, codes};
use std::collections::HashSet;

/// The most elements one value may have once unrolled. Every element is a graph node, so this
/// keeps a typo such as `param W[100000][100000]` from exhausting memory.
pub(crate) const MAX_ELEMENTS: usize = 1 << 20;

/// The most nodes the tensor graph may have. A node is a whole tensor, so only nested function
/// calls (each call inlined) or a body lowered once per position can make many; this bounds
/// them before the work gets large (a tensor node takes about 600 bytes with its tables).
pub const MAX_GRAPH_NODES: usize = 1 << 18;

/// A function call by its body and its arguments (node and free indices each).
pub(crate) type InlinedCall = (*const Expr, Vec<(TId, Vec<crate::value::Axis>)>);

pub(crate) struct Lowerer<'a> {
    pub source: &'a str,
    pub program: TensorProgram,
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
    /// The CSV columns `predict` statements write so far, with the statement that writes each.
    predict_columns: std::collections::HashMap<String, Span>,
    /// The graph reached [`MAX_GRAPH_NODES`]: the error is reported, and no more nodes are made.
    pub too_large: bool,
    /// The result of each function call already inlined, by the function's body and the
    /// argument nodes: a body sees only its arguments and earlier declarations, so the same
    /// call always gives the same node. Without this, `fn f2(a) = f1(a) + f1(a)` nested twenty
    /// deep would be inlined a million times for twenty nodes.
    pub inlined: rustc_hash::FxHashMap<InlinedCall, crate::value::Tensor>,
    /// The next free index's identity (see `value::Axis`).
    pub next_axis: u32,
    /// Every name the file declares, with its first declaration: lets "not declared" say when
    /// the declaration merely comes too late.
    pub declarations: std::collections::HashMap<&'a str, Span>,
}

impl<'a> Lowerer<'a> {
    pub fn new(source: &'a str) -> Lowerer<'a> {
        Lowerer {
            source,
            program: TensorProgram::default(),
            scope: Scope::new(),
            diagnostics: Vec::new(),
            reported: HashSet::new(),
            current_span: Span::default(),
            per_row_uses: Vec::new(),
            inline_depth: 0,
            objective: None,
            data: None,
            predict_columns: std::collections::HashMap::new(),
            too_large: false,
            inlined: rustc_hash::FxHashMap::default(),
            next_axis: 0,
            declarations: std::collections::HashMap::new(),
        }
    }

    pub fn run(mut self, file: &'a File) -> (TensorProgram, Vec<Diagnostic>) {
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
    pub fn node(&mut self, op: TOp, args: &[TId]) -> TId {
        let before = self.program.graph.len();
        if before >= MAX_GRAPH_NODES {
            if !self.too_large {
                self.too_large = true;
                self.report(
                    Diagnostic::error(
                        codes::MODEL_TOO_LARGE,
                        "the model is too large to compile",
                        self.current_span,
                    )
                    .with_label(format!("here it exceeds {MAX_GRAPH_NODES} operations"))
                    .with_hint(
                        "gradc inlines every function call: use fewer nested calls, or `let` \
                         for a value computed once",
                    ),
                );
            }
            // The error is reported and the program will not be used: every further node is
            // the first one, which keeps the rest of lowering (and its other errors) cheap.
            return TId::default();
        }
        if let Err(why) = self.program.graph.result_shape(op, args) {
            // Operands past the size limit are placeholders; anything else is a bug here, and
            // a message beats a crash: the program is not used after an error.
            if !self.too_large {
                self.report(Diagnostic::error(
                    codes::MODEL_TOO_LARGE,
                    format!("internal error: {op:?}: {why}"),
                    self.current_span,
                ));
            }
            return TId::default();
        }
        let id = self.program.graph.apply(op, args);
        if id.index() >= before {
            self.program.spans.insert(id, self.current_span.range());
        }
        id
    }

    pub fn constant(&mut self, value: f64) -> TId {
        self.leaf(|graph| graph.constant(value))
    }

    /// Adds a leaf node (a constant, `iota`, a parameter or an input) made by `make`.
    pub fn leaf(&mut self, make: impl FnOnce(&mut gradc_graph::tensor::TGraph) -> TId) -> TId {
        let before = self.program.graph.len();
        let id = make(&mut self.program.graph);
        if id.index() >= before {
            self.program.spans.insert(id, self.current_span.range());
        }
        id
    }

    pub fn is_per_row(&self, value: &Value) -> bool {
        match value {
            Value::Error => false,
            Value::Tensor(tensor) => self.program.graph.info(tensor.node).per_row,
        }
    }

    /// The text of a span, for messages.
    pub fn text(&self, span: Span) -> &'a str {
        span.text(self.source)
    }

    // Declarations.

    /// `pi` and `inf` may not be redeclared (LANGUAGE.md §2), not even as a function's
    /// parameter or an index name; reports and returns `false` for such a name.
    pub fn not_predefined(&mut self, name: &Ident, what: &str) -> bool {
        let predefined = self
            .scope
            .globals
            .get(&name.name)
            .is_some_and(|existing| existing.span.is_none());
        if predefined {
            self.report(
                Diagnostic::error(
                    codes::REDECLARED_PREDEFINED,
                    format!("`{}` is predefined and cannot be {what}", name.name),
                    name.span,
                )
                .with_label("redeclared here")
                .with_hint(format!(
                    "`{}` is always available; choose another name",
                    name.name
                )),
            );
        }
        !predefined
    }

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
            StmtKind::Predict { name, value } => self.predict(statement.span, name.as_ref(), value),
        }
    }

    /// A `predict` statement: one CSV column of `gradc eval` per element, named by `name` or by
    /// the expression's text. A column name may appear once; an explicit name may not be a
    /// declared name (a column `a` that is not the parameter `a` would mislead).
    fn predict(&mut self, span: Span, name: Option<&'a Ident>, value: &'a Expr) {
        if let Some(name) = name
            && name.name != self.text(value.span)
            && let Some(existing) = self.scope.globals.get(&name.name)
        {
            let what = match existing.span {
                None => "a predefined constant".to_string(),
                Some(_) => "already declared".to_string(),
            };
            let mut diagnostic = Diagnostic::error(
                codes::REDECLARED_NAME,
                format!("the column name `{}` is {what}", name.name),
                name.span,
            )
            .with_label("this column would not hold that value")
            .with_hint(format!(
                "choose another column name, or write `predict {}` for the value of `{}` itself",
                name.name, name.name
            ));
            if let Some(first) = existing.span {
                diagnostic = diagnostic.with_secondary(first, "declared here");
            }
            self.report(diagnostic);
            return;
        }
        let Value::Tensor(tensor) = self.expr(value) else {
            return;
        };
        let name = match (name, &value.kind) {
            (Some(name), _) => name.name.clone(),
            (None, gradc_syntax::ast::ExprKind::Name(n)) => n.name.clone(),
            (None, _) => self.text(value.span).to_string(),
        };
        for k in 0..tensor.len() {
            let column = gradc_graph::program::element_name(&name, &tensor.shape, k);
            if let Some(&first) = self.predict_columns.get(&column) {
                self.report(
                    Diagnostic::error(
                        codes::DUPLICATE_COLUMN,
                        format!("the column `{column}` is predicted twice"),
                        span,
                    )
                    .with_label("second time")
                    .with_secondary(first, "first time")
                    .with_hint("every predicted column needs its own name: `predict name = ...`"),
                );
                return;
            }
            self.predict_columns.insert(column, span);
        }
        self.program.predicts.push(TPredict {
            name,
            node: tensor.node,
        });
    }

    /// Records the user's `let` name for the node it binds (leaves keep their own names).
    fn name_nodes(&mut self, name: &str, value: &Value) {
        let Value::Tensor(tensor) = value else {
            return;
        };
        let id = tensor.node;
        if self.program.graph.op(id).is_leaf() || self.program.names.contains_key(&id) {
            return;
        }
        self.program.names.insert(id, name.to_string());
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
        self.program.objective = tensor.node;
    }

    fn function(&mut self, name: &'a Ident, params: &'a [Ident], body: &'a Expr) {
        let mut broken = false;
        for (k, param) in params.iter().enumerate() {
            broken |= !self.not_predefined(param, "a parameter name");
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
