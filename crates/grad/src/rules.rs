//! The local derivatives of the element-wise operations, written once for every graph that
//! builds them: the scalar graph (one node per element) and the tensor graph (element-wise
//! maps over whole tensors).

use gradc_graph::{CmpOp, Op};

/// What the rules need from a graph.
pub trait Build {
    type Id: Copy;
    fn constant(&mut self, value: f64) -> Self::Id;
    /// An element-wise operation.
    fn apply(&mut self, op: Op, args: &[Self::Id]) -> Self::Id;
    fn const_value(&self, id: Self::Id) -> Option<f64>;
    fn depends_on_param(&self, id: Self::Id) -> bool;

    fn op1(&mut self, op: Op, a: Self::Id) -> Self::Id {
        self.apply(op, &[a])
    }
    fn op2(&mut self, op: Op, a: Self::Id, b: Self::Id) -> Self::Id {
        self.apply(op, &[a, b])
    }
    fn unary(&mut self, op: Op, a: Self::Id) -> Self::Id {
        self.apply(op, &[a])
    }
    fn binary(&mut self, op: Op, a: Self::Id, b: Self::Id) -> Self::Id {
        self.apply(op, &[a, b])
    }
    fn if_then_else(&mut self, c: Self::Id, t: Self::Id, f: Self::Id) -> Self::Id {
        self.apply(Op::If, &[c, t, f])
    }
}

/// The local derivative of a node with respect to one operand, as the contribution to that
/// operand's adjoint `a` is built from it.
#[derive(Clone, Copy, Debug)]
pub enum Local<Id> {
    /// `a`.
    Same,
    /// `−a`.
    Negated,
    /// `a · l`.
    Times(Id),
    /// `a / d`: the quotient is built directly (`a / x` for `log`), not as `a · (1/x)`.
    Over(Id),
    /// `−(a · factor) / denominator`: the quotient rule's second term.
    MinusTimesOver { factor: Id, denominator: Id },
    /// `l · a` where `l` may be an exact zero standing for "branch not taken": the second
    /// factor of an [`Op::GuardMul`].
    Guarded(Id),
    /// `if condition then a else 0` (`first`) or `if condition then 0 else a`.
    Chosen { condition: Id, first: bool },
}

/// The local derivatives of `node = op(args)` for an element-wise `op` (not a row reduction,
/// not `if`, which need passes of their own): one entry per operand that gets a contribution.
pub fn elementwise<B: Build>(
    b: &mut B,
    op: Op,
    args: &[B::Id],
    node: B::Id,
) -> Vec<(B::Id, Local<B::Id>)> {
    let x = args.first().copied().unwrap_or(node);
    match op {
        Op::Const(_) | Op::Param(_) | Op::Input(_) => vec![],
        Op::Sign | Op::Step | Op::Cmp(_) => vec![],
        Op::Add => vec![(args[0], Local::Same), (args[1], Local::Same)],
        Op::Sub => vec![(args[0], Local::Same), (args[1], Local::Negated)],
        Op::Neg => vec![(x, Local::Negated)],
        Op::Mul => {
            let (l, r) = (args[0], args[1]);
            vec![(l, Local::Times(r)), (r, Local::Times(l))]
        }
        Op::GuardMul => {
            // The product rule, each term guarded by its own factor's zero.
            let (l, r) = (args[0], args[1]);
            vec![(l, Local::Times(r)), (r, Local::Guarded(l))]
        }
        Op::Div => {
            // d(l/r) = dl / r − (l/r) · dr / r: reuses the quotient itself.
            let (l, r) = (args[0], args[1]);
            vec![
                (l, Local::Over(r)),
                (
                    r,
                    Local::MinusTimesOver {
                        factor: node,
                        denominator: r,
                    },
                ),
            ]
        }
        Op::Pow => {
            let (base, exponent) = (args[0], args[1]);
            let mut out = Vec::new();
            if b.depends_on_param(base) {
                // d(b^e)/db = e · b^(e−1); for a constant e the new exponent is folded here
                // because it is a literal, not an algebraic choice.
                let reduced = match b.const_value(exponent) {
                    Some(e) => {
                        let e1 = b.constant(e - 1.0);
                        b.binary(Op::Pow, base, e1)
                    }
                    None => {
                        let one = b.constant(1.0);
                        let e1 = b.op2(Op::Sub, exponent, one);
                        b.binary(Op::Pow, base, e1)
                    }
                };
                let local = b.op2(Op::Mul, exponent, reduced);
                out.push((base, Local::Times(local)));
            }
            if b.depends_on_param(exponent) {
                let log = b.unary(Op::Log, base);
                let local = b.op2(Op::Mul, node, log);
                out.push((exponent, Local::Times(local)));
            }
            out
        }
        Op::Exp => vec![(x, Local::Times(node))],
        Op::Log => vec![(x, Local::Over(x))],
        Op::Sqrt => {
            let two = b.constant(2.0);
            let denominator = b.op2(Op::Mul, two, node);
            vec![(x, Local::Over(denominator))]
        }
        Op::Abs => vec![(x, Local::Times(b.unary(Op::Sign, x)))],
        Op::Sin => vec![(x, Local::Times(b.unary(Op::Cos, x)))],
        Op::Cos => {
            let sin = b.unary(Op::Sin, x);
            vec![(x, Local::Times(b.op1(Op::Neg, sin)))]
        }
        Op::Tan => {
            // tan' = 1 + tan².
            let one = b.constant(1.0);
            let sq = b.op2(Op::Mul, node, node);
            vec![(x, Local::Times(b.op2(Op::Add, one, sq)))]
        }
        Op::Atan => {
            let one = b.constant(1.0);
            let sq = b.op2(Op::Mul, x, x);
            vec![(x, Local::Over(b.op2(Op::Add, one, sq)))]
        }
        Op::Tanh => {
            // tanh' = 1 − tanh².
            let one = b.constant(1.0);
            let sq = b.op2(Op::Mul, node, node);
            vec![(x, Local::Times(b.op2(Op::Sub, one, sq)))]
        }
        Op::Sigmoid => {
            // σ' = σ(1 − σ).
            let one = b.constant(1.0);
            let complement = b.op2(Op::Sub, one, node);
            vec![(x, Local::Times(b.op2(Op::Mul, node, complement)))]
        }
        Op::Relu => vec![(x, Local::Times(b.unary(Op::Step, x)))],
        Op::Softplus => vec![(x, Local::Times(b.unary(Op::Sigmoid, x)))],
        Op::Log1p => {
            let one = b.constant(1.0);
            vec![(x, Local::Over(b.op2(Op::Add, one, x)))]
        }
        Op::Expm1 => vec![(x, Local::Times(b.unary(Op::Exp, x)))],
        Op::Max | Op::Min => {
            // The derivative goes to the first operand where it wins ties (LANGUAGE.md §4).
            let cmp = if op == Op::Max { CmpOp::Ge } else { CmpOp::Le };
            let (l, r) = (args[0], args[1]);
            let condition = b.binary(Op::Cmp(cmp), l, r);
            vec![
                (
                    l,
                    Local::Chosen {
                        condition,
                        first: true,
                    },
                ),
                (
                    r,
                    Local::Chosen {
                        condition,
                        first: false,
                    },
                ),
            ]
        }
        Op::LeakyRelu | Op::Elu => {
            let (t, slope) = (args[0], args[1]);
            let zero = b.constant(0.0);
            let one = b.constant(1.0);
            let positive = b.binary(Op::Cmp(CmpOp::Gt), t, zero);
            let (negative_dt, negative_dslope) = if op == Op::LeakyRelu {
                (slope, t)
            } else {
                let exp = b.unary(Op::Exp, t);
                (b.op2(Op::Mul, slope, exp), b.unary(Op::Expm1, t))
            };
            let local_t = b.if_then_else(positive, one, negative_dt);
            let local_slope = b.if_then_else(positive, zero, negative_dslope);
            vec![
                (t, Local::Times(local_t)),
                (slope, Local::Times(local_slope)),
            ]
        }
        Op::LogSumExp => {
            // ∂/∂vᵢ logsumexp(v) = softmax(v)ᵢ = exp(vᵢ − logsumexp(v)).
            args.iter()
                .map(|&v| {
                    let shifted = b.op2(Op::Sub, v, node);
                    (v, Local::Times(b.unary(Op::Exp, shifted)))
                })
                .collect()
        }
        // Handled by their own passes above.
        Op::RowSum | Op::RowMean | Op::If => vec![],
    }
}
