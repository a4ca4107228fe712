//! The Rust functions that generated code calls for transcendental operations.
//!
//! Each one calls exactly what [`gradc_graph::Op::apply`] calls (the same `f64` method or the
//! same helper of `gradc_graph::op`), so native results are bit-identical to the interpreter's.
//! They are registered as JIT symbols by name; none of them can panic (a panic could not unwind
//! through generated code).

use gradc_graph::op::{logsumexp, pow, sigmoid, softplus};

/// A function the generated code calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Callee {
    Exp,
    Log,
    Sin,
    Cos,
    Tan,
    Atan,
    Tanh,
    Sigmoid,
    Softplus,
    Log1p,
    Expm1,
    Pow,
    LogSumExp,
}

impl Callee {
    pub const ALL: [Callee; 13] = [
        Callee::Exp,
        Callee::Log,
        Callee::Sin,
        Callee::Cos,
        Callee::Tan,
        Callee::Atan,
        Callee::Tanh,
        Callee::Sigmoid,
        Callee::Softplus,
        Callee::Log1p,
        Callee::Expm1,
        Callee::Pow,
        Callee::LogSumExp,
    ];

    pub fn index(self) -> usize {
        Callee::ALL
            .iter()
            .position(|&c| c == self)
            .expect("every callee is in ALL")
    }

    /// The symbol name the generated code imports.
    pub fn symbol(self) -> &'static str {
        match self {
            Callee::Exp => "gradc_exp",
            Callee::Log => "gradc_log",
            Callee::Sin => "gradc_sin",
            Callee::Cos => "gradc_cos",
            Callee::Tan => "gradc_tan",
            Callee::Atan => "gradc_atan",
            Callee::Tanh => "gradc_tanh",
            Callee::Sigmoid => "gradc_sigmoid",
            Callee::Softplus => "gradc_softplus",
            Callee::Log1p => "gradc_log1p",
            Callee::Expm1 => "gradc_expm1",
            Callee::Pow => "gradc_pow",
            Callee::LogSumExp => "gradc_logsumexp",
        }
    }

    /// The function's address.
    pub fn address(self) -> *const u8 {
        match self {
            Callee::Exp => exp as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Log => log as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Sin => sin as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Cos => cos as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Tan => tan as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Atan => atan as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Tanh => tanh as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Sigmoid => sigmoid_c as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Softplus => softplus_c as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Log1p => log1p as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Expm1 => expm1 as extern "C" fn(f64) -> f64 as *const u8,
            Callee::Pow => pow_c as extern "C" fn(f64, f64) -> f64 as *const u8,
            Callee::LogSumExp => {
                logsumexp_c as unsafe extern "C" fn(*const f64, usize) -> f64 as *const u8
            }
        }
    }

    /// The number of `f64` arguments (for [`Callee::LogSumExp`]: a pointer and a length).
    pub fn float_args(self) -> usize {
        match self {
            Callee::Pow => 2,
            Callee::LogSumExp => 0,
            _ => 1,
        }
    }
}

extern "C" fn exp(x: f64) -> f64 {
    x.exp()
}

extern "C" fn log(x: f64) -> f64 {
    x.ln()
}

extern "C" fn sin(x: f64) -> f64 {
    x.sin()
}

extern "C" fn cos(x: f64) -> f64 {
    x.cos()
}

extern "C" fn tan(x: f64) -> f64 {
    x.tan()
}

extern "C" fn atan(x: f64) -> f64 {
    x.atan()
}

extern "C" fn tanh(x: f64) -> f64 {
    x.tanh()
}

extern "C" fn sigmoid_c(x: f64) -> f64 {
    sigmoid(x)
}

extern "C" fn softplus_c(x: f64) -> f64 {
    softplus(x)
}

extern "C" fn log1p(x: f64) -> f64 {
    x.ln_1p()
}

extern "C" fn expm1(x: f64) -> f64 {
    x.exp_m1()
}

extern "C" fn pow_c(a: f64, b: f64) -> f64 {
    pow(a, b)
}

/// `logsumexp` of `len` values at `xs`.
///
/// # Safety
/// `xs` must point to `len` initialized `f64`s (it may dangle when `len` is 0). The generated
/// code passes a stack slot it has just filled with `len` values.
unsafe extern "C" fn logsumexp_c(xs: *const f64, len: usize) -> f64 {
    if len == 0 {
        return logsumexp(&[]);
    }
    // SAFETY: the caller guarantees `len` initialized values at `xs` (see above).
    let xs = unsafe { std::slice::from_raw_parts(xs, len) };
    logsumexp(xs)
}
