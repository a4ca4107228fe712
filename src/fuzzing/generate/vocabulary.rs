//! The generator's vocabulary: shapes, generated expressions, the built-ins by kind, and the
//! numbers models are written with.

use arbitrary::Arbitrary;
use gradc_graph::Op;

/// The shape of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Scalar,
    Vector(usize),
    Matrix(usize, usize),
}

impl Shape {
    /// The extents as written in a declaration: nothing for a scalar, `[3]`, `[2][3]`.
    pub(super) fn dims(self) -> String {
        match self {
            Shape::Scalar => String::new(),
            Shape::Vector(k) => format!("[{k}]"),
            Shape::Matrix(m, n) => format!("[{m}][{n}]"),
        }
    }

    pub(super) fn len(self) -> usize {
        match self {
            Shape::Scalar => 1,
            Shape::Vector(k) => k,
            Shape::Matrix(m, n) => m * n,
        }
    }
}

/// A declared name that expressions may use.
pub(super) struct Named {
    pub(super) name: String,
    pub(super) shape: Shape,
    pub(super) per_row: bool,
}

/// Generated expression text, and whether its value depends on the data row.
pub(super) struct Expr {
    pub(super) text: String,
    pub(super) per_row: bool,
}

impl Expr {
    pub(super) fn new(text: String, per_row: bool) -> Expr {
        Expr { text, per_row }
    }

    /// A call of `name` on `args`, per-row if any argument is.
    pub(super) fn call(name: &str, args: &[Expr]) -> Expr {
        let texts: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
        let per_row = args.iter().any(|a| a.per_row);
        Expr::new(format!("{name}({})", texts.join(", ")), per_row)
    }
}

/// The element-wise functions of one argument (LANGUAGE.md §4).
#[derive(Arbitrary, Clone, Copy, Debug)]
pub(super) enum Unary {
    Exp,
    Log,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tan,
    Atan,
    Tanh,
    Sigmoid,
    Relu,
    Softplus,
    Log1p,
    Expm1,
}

impl Unary {
    pub(super) fn name(self) -> &'static str {
        self.pair().0
    }

    pub(super) fn op(self) -> Op {
        self.pair().1
    }

    pub(super) fn pair(self) -> (&'static str, Op) {
        match self {
            Unary::Exp => ("exp", Op::Exp),
            Unary::Log => ("log", Op::Log),
            Unary::Sqrt => ("sqrt", Op::Sqrt),
            Unary::Abs => ("abs", Op::Abs),
            Unary::Sin => ("sin", Op::Sin),
            Unary::Cos => ("cos", Op::Cos),
            Unary::Tan => ("tan", Op::Tan),
            Unary::Atan => ("atan", Op::Atan),
            Unary::Tanh => ("tanh", Op::Tanh),
            Unary::Sigmoid => ("sigmoid", Op::Sigmoid),
            Unary::Relu => ("relu", Op::Relu),
            Unary::Softplus => ("softplus", Op::Softplus),
            Unary::Log1p => ("log1p", Op::Log1p),
            Unary::Expm1 => ("expm1", Op::Expm1),
        }
    }
}

/// The arithmetic operators.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl Arith {
    pub(super) fn pair(self) -> (&'static str, Op) {
        match self {
            Arith::Add => ("+", Op::Add),
            Arith::Sub => ("-", Op::Sub),
            Arith::Mul => ("*", Op::Mul),
            Arith::Div => ("/", Op::Div),
            Arith::Pow => ("^", Op::Pow),
        }
    }
}

/// The reductions of a vector or matrix to a scalar.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub(super) enum Reduce {
    Sum,
    Mean,
    Max,
    Min,
    LogSumExp,
    Norm,
}

/// Literals, the smallest first.
pub(super) const NUMBERS: [f64; 12] = [
    0.0, 1.0, 2.0, 0.5, 3.0, 0.1, 10.0, 1e-3, 4.0, 0.25, 1.5, 100.0,
];
/// Literals that overflow or underflow what they touch: now and then only, or most points
/// would be unfit for comparing simplified with original.
pub(super) const EXTREMES: [f64; 5] = [1e-8, 1e8, 1e300, 1e-300, 1e15];
/// Exponents: the small integers take `powi`'s path in `Op::Pow`.
pub(super) const EXPONENTS: [f64; 9] = [2.0, 3.0, 0.5, -1.0, 1.0, 0.0, 4.0, -2.0, 1.5];
/// Data values and evaluation points: zero of both signs, negatives, a range of magnitudes.
pub(super) const VALUES: [f64; 11] = [0.0, 1.0, -1.0, 0.5, -2.0, 3.0, -0.25, 10.0, 1e-8, -0.0, 1.5];
/// Data values and evaluation points, now and then.
pub(super) const EXTREME_VALUES: [f64; 5] = [1e8, -1e8, 1e-300, 1e15, -1e15];

/// A number as the lexer reads it back exactly (shortest round-trip form); negative numbers
/// are a negated literal in parentheses.
pub(super) fn number_text(value: f64) -> String {
    if value.is_sign_negative() {
        format!("(-{:?})", -value)
    } else {
        format!("{value:?}")
    }
}
