//! The syntax tree of a `.loss` file: plain data, a span on every node and every name.
//!
//! The parser always produces a tree, even for broken input: a statement that had a syntax
//! error is kept with `has_error` set (so that later stages can declare its name without
//! reporting anything more about it), and a missing expression is an [`ExprKind::Error`].

use crate::span::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub statements: Vec<Stmt>,
    pub span: Span,
}

/// A name as written, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal with its escapes resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
    /// The statement had a syntax error (already reported); its parts may be incomplete.
    pub has_error: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `data "path.csv"`
    Data { path: StrLit },
    /// `input x`, `input x[k] = a, b`, `input x[k] = columns 2..12`
    Input {
        name: Ident,
        shape: Vec<Expr>,
        source: InputSource,
    },
    /// `param w[k] = 0`, `param W[m][n] ~ normal(0, 1)`
    Param {
        name: Ident,
        shape: Vec<Expr>,
        init: ParamInit,
    },
    /// `const c = 0.01`
    Const { name: Ident, value: Expr },
    /// `let z = expr`, or `let v[i] = expr` with free index names.
    Let {
        name: Ident,
        indices: Vec<Ident>,
        value: Expr,
    },
    /// `fn name(a, b) = expr`
    Fn {
        name: Ident,
        params: Vec<Ident>,
        body: Expr,
    },
    /// `minimize expr`
    Minimize { value: Expr },
    /// `predict expr` or `predict name = expr`
    Predict { name: Option<Ident>, value: Expr },
}

impl StmtKind {
    /// The name the statement declares, if any.
    pub fn declared_name(&self) -> Option<&Ident> {
        match self {
            StmtKind::Input { name, .. }
            | StmtKind::Param { name, .. }
            | StmtKind::Const { name, .. }
            | StmtKind::Let { name, .. }
            | StmtKind::Fn { name, .. } => Some(name),
            StmtKind::Data { .. } | StmtKind::Minimize { .. } | StmtKind::Predict { .. } => None,
        }
    }
}

/// Where an input's columns come from.
#[derive(Clone, Debug, PartialEq)]
pub enum InputSource {
    /// `input x`: the column headed by the input's own name.
    OwnName,
    /// `= a, "b c"`: columns by header, one per element.
    Columns(Vec<ColumnRef>),
    /// `= columns 2..12`: columns by 0-based position, end exclusive.
    Positions { start: Expr, end: Expr, span: Span },
}

/// One column header, written as a name or a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnRef {
    pub header: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParamInit {
    /// No initial value: zero.
    Zero,
    /// `= expr`
    Value(Expr),
    /// `~ name(args)`, such as `normal(0, 0.5)`.
    Distribution {
        name: Ident,
        args: Vec<Expr>,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    MatMul,
    Pow,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::MatMul => "@",
            BinaryOp::Pow => "^",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
        }
    }
}

/// `sum(i) body` or (an extension) `mean(i) body`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduction {
    Sum,
    Mean,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Number(f64),
    Name(Ident),
    Neg(Box<Expr>),
    Binary {
        op: BinaryOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// Only valid as the condition of an `if`; the parser reports it anywhere else.
    Compare {
        op: CompareOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `f(a, b)`; `sum(v)` and `mean(v)` are calls too.
    Call {
        callee: Ident,
        args: Vec<Expr>,
    },
    /// `base[index]`; `W[i][j]` is an index of an index.
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `sum(i) body`: Σ over the free index `i`.
    IndexReduce {
        reduction: Reduction,
        index: Ident,
        body: Box<Expr>,
    },
    If {
        condition: Box<Expr>,
        then_branch: Box<Expr>,
        else_branch: Box<Expr>,
    },
    /// A missing or malformed expression, already reported.
    Error,
}

impl Expr {
    /// The direct subexpressions, in source order.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Number(_) | ExprKind::Name(_) | ExprKind::Error => Vec::new(),
            ExprKind::Neg(operand) => vec![operand],
            ExprKind::Binary { lhs, rhs, .. } | ExprKind::Compare { lhs, rhs, .. } => {
                vec![lhs, rhs]
            }
            ExprKind::Call { args, .. } => args.iter().collect(),
            ExprKind::Index { base, index } => vec![base, index],
            ExprKind::IndexReduce { body, .. } => vec![body],
            ExprKind::If {
                condition,
                then_branch,
                else_branch,
            } => vec![condition, then_branch, else_branch],
        }
    }
}

impl Drop for Expr {
    /// Drops the subexpressions with an explicit stack: a chain of 100,000 additions is a tree
    /// 100,000 levels deep, and the recursive drop of its boxes would exhaust a thread's stack.
    fn drop(&mut self) {
        let mut pending: Vec<Expr> = Vec::new();
        take_children(self, &mut pending);
        while let Some(mut expr) = pending.pop() {
            take_children(&mut expr, &mut pending);
        }
    }
}

/// Moves the boxed and listed subexpressions of `expr` into `into`, leaving errors in their
/// place, so that `expr` itself drops without recursing.
fn take_children(expr: &mut Expr, into: &mut Vec<Expr>) {
    let mut take = |slot: &mut Box<Expr>| {
        if !matches!(
            slot.kind,
            ExprKind::Number(_) | ExprKind::Name(_) | ExprKind::Error
        ) {
            let empty = Expr {
                kind: ExprKind::Error,
                span: slot.span,
            };
            into.push(std::mem::replace(&mut **slot, empty));
        }
    };
    match &mut expr.kind {
        ExprKind::Number(_) | ExprKind::Name(_) | ExprKind::Error => {}
        ExprKind::Neg(operand) => take(operand),
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Compare { lhs, rhs, .. } => {
            take(lhs);
            take(rhs);
        }
        ExprKind::Call { args, .. } => into.append(args),
        ExprKind::Index { base, index } => {
            take(base);
            take(index);
        }
        ExprKind::IndexReduce { body, .. } => take(body),
        ExprKind::If {
            condition,
            then_branch,
            else_branch,
        } => {
            take(condition);
            take(then_branch);
            take(else_branch);
        }
    }
}
