//! The scalar operations of the expression graph and their floating-point semantics.
//!
//! Every pipeline stage agrees on what an [`Op`] means through [`Op::apply`]: the reference
//! interpreter calls it, the simplifier's constant folding calls it, and the native code generator
//! must reproduce it. Kinks follow LANGUAGE.md §4.

use std::fmt;

/// A comparison inside the condition of an `if`. It evaluates to 1.0 (true) or 0.0 (false).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }

    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
        }
    }

    pub const ALL: [CmpOp; 6] = [
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Eq,
        CmpOp::Ne,
    ];
}

/// One node's operation. Leaves carry their payload; operands live in the node's argument list.
///
/// Constants are stored as bit patterns so that the node can be hashed for hash-consing; `-0.0`
/// and `0.0` are therefore distinct nodes, and NaN constants are allowed but never created by
/// lowering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// A numeric constant, as `f64::to_bits`.
    Const(u64),
    /// One scalar element of a trainable parameter, by flat index (see `Program::params`).
    Param(u32),
    /// One data column, by flat index (see `Program::inputs`). Per-row.
    Input(u32),
    Add,
    Sub,
    Mul,
    Div,
    /// `a ^ b`, defined as `powf` except that integer exponents use exact repeated products
    /// semantics of `powi` where the exponent is a small integer constant.
    Pow,
    Neg,
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
    /// `max(a, b)`; its derivative goes to `a` where `a >= b`.
    Max,
    /// `min(a, b)`; its derivative goes to `a` where `a <= b`.
    Min,
    /// `leaky_relu(t, a)`: `t` where `t > 0`, else `a * t`.
    LeakyRelu,
    /// `elu(t, a)`: `t` where `t > 0`, else `a * (exp(t) - 1)`.
    Elu,
    /// The sign of its argument: -1, 0 or 1 (0 at ±0). The derivative of `abs`.
    Sign,
    /// 1 where the argument is > 0, else 0. The derivative of `relu`.
    Step,
    /// A comparison; 1.0 or 0.0.
    Cmp(CmpOp),
    /// `if c then a else b`: arguments `[c, a, b]`; `a` where `c != 0`.
    If,
    /// `a · b`, but exactly 0 where `a` is 0 (even where `b` is infinite or NaN): a
    /// contribution to a derivative whose adjoint `a` may be an exact zero standing for "branch
    /// not taken" (gradc-grad). Unlike `if a != 0 then a·b else 0`, its own derivative keeps
    /// the product rule where `a` is zero: `(da)·b`.
    GuardMul,
    /// `log(sum(exp(v)))` over any number of arguments, evaluated stably.
    LogSumExp,
    /// The sum of a per-row argument over the data rows (scaled by N/B on a mini-batch).
    RowSum,
    /// The mean of a per-row argument over the data rows.
    RowMean,
}

impl Op {
    /// The constant node payload for a value.
    pub fn constant(value: f64) -> Op {
        Op::Const(value.to_bits())
    }

    /// The value of a constant node.
    pub fn const_value(self) -> Option<f64> {
        match self {
            Op::Const(bits) => Some(f64::from_bits(bits)),
            _ => None,
        }
    }

    pub fn is_leaf(self) -> bool {
        matches!(self, Op::Const(_) | Op::Param(_) | Op::Input(_))
    }

    pub fn is_row_reduction(self) -> bool {
        matches!(self, Op::RowSum | Op::RowMean)
    }

    /// The number of operands, or `None` for the variadic [`Op::LogSumExp`].
    pub fn arity(self) -> Option<usize> {
        use Op::*;
        Some(match self {
            Const(_) | Param(_) | Input(_) => 0,
            Neg | Exp | Log | Sqrt | Abs | Sin | Cos | Tan | Atan | Tanh | Sigmoid | Relu
            | Softplus | Log1p | Expm1 | Sign | Step | RowSum | RowMean => 1,
            Add | Sub | Mul | Div | Pow | Max | Min | LeakyRelu | Elu | GuardMul | Cmp(_) => 2,
            If => 3,
            LogSumExp => return None,
        })
    }

    /// The name used in the text format for function-call operations and in the simplifier.
    pub fn name(self) -> &'static str {
        use Op::*;
        match self {
            Const(_) => "const",
            Param(_) => "param",
            Input(_) => "input",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Pow => "^",
            Neg => "neg",
            Exp => "exp",
            Log => "log",
            Sqrt => "sqrt",
            Abs => "abs",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Atan => "atan",
            Tanh => "tanh",
            Sigmoid => "sigmoid",
            Relu => "relu",
            Softplus => "softplus",
            Log1p => "log1p",
            Expm1 => "expm1",
            Max => "max",
            Min => "min",
            LeakyRelu => "leaky_relu",
            Elu => "elu",
            Sign => "sign",
            Step => "step",
            Cmp(c) => c.symbol(),
            If => "if",
            GuardMul => "guard",
            LogSumExp => "logsumexp",
            RowSum => "sum",
            RowMean => "mean",
        }
    }

    /// The operation that [`Op::name`] calls `name`, for every operation but the leaves
    /// (whose text carries a payload: see `Display`). The inverse of `name` on those operations.
    pub fn from_name(name: &str) -> Option<Op> {
        use Op::*;
        const NAMED: [Op; 14] = [
            Add, Sub, Mul, Div, Pow, Max, Min, LeakyRelu, Elu, If, GuardMul, LogSumExp, RowSum,
            RowMean,
        ];
        let named = NAMED.iter().chain(&Op::UNARY_FUNCTIONS).copied();
        let compared = CmpOp::ALL.iter().map(|&c| Cmp(c));
        named.chain(compared).find(|op| op.name() == name)
    }

    /// Every unary function, in a fixed order (used by random-expression generators and tables).
    pub const UNARY_FUNCTIONS: [Op; 17] = [
        Op::Neg,
        Op::Exp,
        Op::Log,
        Op::Sqrt,
        Op::Abs,
        Op::Sin,
        Op::Cos,
        Op::Tan,
        Op::Atan,
        Op::Tanh,
        Op::Sigmoid,
        Op::Relu,
        Op::Softplus,
        Op::Log1p,
        Op::Expm1,
        Op::Sign,
        Op::Step,
    ];

    /// Applies a non-leaf, non-reduction operation to its operand values.
    ///
    /// This is the single definition of every operation's value. Callers pass exactly
    /// `arity()` operands (any number for `LogSumExp`). Row reductions and leaves have no
    /// pointwise meaning and return NaN here.
    pub fn apply(self, args: &[f64]) -> f64 {
        use Op::*;
        let a = args.first().copied().unwrap_or(f64::NAN);
        let b = args.get(1).copied().unwrap_or(f64::NAN);
        match self {
            Const(bits) => f64::from_bits(bits),
            Param(_) | Input(_) | RowSum | RowMean => f64::NAN,
            Add => a + b,
            Sub => a - b,
            Mul => a * b,
            Div => a / b,
            Pow => pow(a, b),
            Neg => -a,
            Exp => a.exp(),
            Log => a.ln(),
            Sqrt => a.sqrt(),
            Abs => a.abs(),
            Sin => a.sin(),
            Cos => a.cos(),
            Tan => a.tan(),
            Atan => a.atan(),
            Tanh => a.tanh(),
            Sigmoid => sigmoid(a),
            Relu => {
                if a > 0.0 || a.is_nan() {
                    a
                } else {
                    0.0
                }
            }
            Softplus => softplus(a),
            Log1p => a.ln_1p(),
            Expm1 => a.exp_m1(),
            // NaN propagates through max and min (as in numpy and PyTorch, and as Cranelift's
            // `fmax`/`fmin` do), so that a bad value is never silently replaced.
            Max => {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else if a >= b {
                    a
                } else {
                    b
                }
            }
            Min => {
                if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else if a <= b {
                    a
                } else {
                    b
                }
            }
            LeakyRelu => {
                if a > 0.0 {
                    a
                } else {
                    b * a
                }
            }
            Elu => {
                if a > 0.0 {
                    a
                } else {
                    b * a.exp_m1()
                }
            }
            Sign => {
                if a > 0.0 {
                    1.0
                } else if a < 0.0 {
                    -1.0
                } else {
                    // ±0 and NaN: a NaN argument stays NaN.
                    a * 0.0
                }
            }
            Step => {
                if a > 0.0 {
                    1.0
                } else if a.is_nan() {
                    a
                } else {
                    0.0
                }
            }
            Cmp(c) => {
                if c.holds(a, b) {
                    1.0
                } else {
                    0.0
                }
            }
            If => {
                let c = a;
                if c != 0.0 {
                    b
                } else {
                    args.get(2).copied().unwrap_or(f64::NAN)
                }
            }
            GuardMul => {
                if a == 0.0 {
                    0.0
                } else {
                    a * b
                }
            }
            LogSumExp => logsumexp(args),
        }
    }
}

/// The logistic function, evaluated without overflow for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(x))`, evaluated without overflow: `max(x, 0) + log1p(exp(-|x|))`.
pub fn softplus(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `a ^ b`: `powi` for small integer exponents (exact and what users expect of `x^2`),
/// `powf` otherwise.
pub fn pow(a: f64, b: f64) -> f64 {
    if b == b.trunc() && b.abs() <= 64.0 {
        a.powi(b as i32)
    } else {
        a.powf(b)
    }
}

/// `log(Σ exp(xᵢ))` with the maximum subtracted first so that no term overflows.
pub fn logsumexp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_nan() || xs.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    if m.is_infinite() {
        return m;
    }
    let s: f64 = xs.iter().map(|x| (x - m).exp()).sum();
    m + s.ln()
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Const(bits) => write!(f, "{}", f64::from_bits(*bits)),
            Op::Param(i) => write!(f, "param#{i}"),
            Op::Input(i) => write!(f, "input#{i}"),
            other => f.write_str(other.name()),
        }
    }
}
