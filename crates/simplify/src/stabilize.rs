//! [`stabilize`]: the numerically stable forms of the logarithms of a logistic model, by a
//! direct pass over the graph — for graphs too large for equality saturation to be relied on
//! to reach them within its budget (the same rewrites are rules of the e-graph, see `rules`).
//!
//! `log σ(z)` overflows to `-inf` once σ(z) rounds to 0 (z < −745), and `log(1 − σ(z))` once
//! σ(z) rounds to 1 (z > 37): a cross-entropy written as on the slide becomes `0 · (−∞) = NaN`
//! on a row the model already fits confidently. The stable forms are exact identities:
//!
//! - `log(σ(z))` → `z − softplus(z)`
//! - `log(1 − σ(z))` → `−softplus(z)`
//! - `log(1 + exp(z))`, `log(exp(z) + 1)`, `log1p(exp(z))` → `softplus(z)`
//!
//! Each replaces as many or more operations than it adds (when the inner σ or exp is shared,
//! it stays for its other users).

use gradc_graph::{Graph, NodeId, Op};
use rustc_hash::FxHashMap;

/// The graph of `roots` rebuilt with the stable forms; the new roots, and the map from the
/// input's nodes to the output's.
pub struct Stabilized {
    pub graph: Graph,
    pub roots: Vec<NodeId>,
    pub map: FxHashMap<NodeId, NodeId>,
}

pub fn stabilize(graph: &Graph, roots: &[NodeId]) -> Stabilized {
    let mut out = Graph::new();
    let mut map: FxHashMap<NodeId, NodeId> = FxHashMap::default();
    for id in graph.cone(roots) {
        let args: Vec<NodeId> = graph.args(id).iter().map(|a| map[a]).collect();
        let new = rebuild(&mut out, graph.op(id), &args);
        map.insert(id, new);
    }
    let roots = roots.iter().map(|r| map[r]).collect();
    Stabilized {
        graph: out,
        roots,
        map,
    }
}

/// `op(args)` in `g`, in its stable form where it has one.
fn rebuild(g: &mut Graph, op: Op, args: &[NodeId]) -> NodeId {
    let is_one = |g: &Graph, id: NodeId| g.op(id).const_value() == Some(1.0);
    let inner = |g: &Graph, id: NodeId, wanted: Op| (g.op(id) == wanted).then(|| g.args(id)[0]);
    match op {
        Op::Log => {
            let a = args[0];
            if let Some(z) = inner(g, a, Op::Sigmoid) {
                let softplus = g.unary(Op::Softplus, z);
                return g.sub(z, softplus);
            }
            if g.op(a) == Op::Sub
                && is_one(g, g.args(a)[0])
                && let Some(z) = inner(g, g.args(a)[1], Op::Sigmoid)
            {
                let softplus = g.unary(Op::Softplus, z);
                return g.neg(softplus);
            }
            if g.op(a) == Op::Add {
                let (l, r) = (g.args(a)[0], g.args(a)[1]);
                let z = if is_one(g, l) {
                    inner(g, r, Op::Exp)
                } else if is_one(g, r) {
                    inner(g, l, Op::Exp)
                } else {
                    None
                };
                if let Some(z) = z {
                    return g.unary(Op::Softplus, z);
                }
            }
            g.add(op, args)
        }
        Op::Log1p => match inner(g, args[0], Op::Exp) {
            Some(z) => g.unary(Op::Softplus, z),
            None => g.add(op, args),
        },
        _ => g.add(op, args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradc_graph::interp::{Data, evaluate};

    #[test]
    fn the_stable_forms_are_finite_where_the_slide_forms_are_not() {
        // −(t·log σ(z) + (1 − t)·log(1 − σ(z))) + log(1 + exp(z)) + log1p(exp(z)) + log(exp(z) + 1)
        let mut g = Graph::new();
        let z = g.param(0);
        let t = g.param(1);
        let s = g.unary(Op::Sigmoid, z);
        let one = g.constant(1.0);
        let log_s = g.unary(Op::Log, s);
        let one_minus_s = g.sub(one, s);
        let log_1s = g.unary(Op::Log, one_minus_s);
        let one_minus_t = g.sub(one, t);
        let a = g.mul(t, log_s);
        let b = g.mul(one_minus_t, log_1s);
        let ce = g.add2(a, b);
        let ce = g.neg(ce);
        let e = g.unary(Op::Exp, z);
        let sp1 = g.add2(one, e);
        let sp1 = g.unary(Op::Log, sp1);
        let sp2 = g.unary(Op::Log1p, e);
        let sp3 = g.add2(e, one);
        let sp3 = g.unary(Op::Log, sp3);
        let total = g.sum_of(&[ce, sp1, sp2, sp3]);
        let stable = stabilize(&g, &[total]);
        let at = |graph: &Graph, root: NodeId, p: &[f64]| {
            evaluate(graph, &[root], p, &Data::empty()).expect("evaluates")[0]
        };
        // Same values where the written form is finite (to rounding).
        // (Beyond |z| ≈ 5 the written `log(1 − σ(z))` loses digits to cancellation.)
        for zv in [-5.0, -2.0, -0.1, 0.0, 0.7, 5.0] {
            for tv in [0.0, 0.3, 1.0] {
                let (x, y) = (
                    at(&g, total, &[zv, tv]),
                    at(&stable.graph, stable.roots[0], &[zv, tv]),
                );
                assert!(
                    (x - y).abs() <= 1e-12 * x.abs().max(1.0),
                    "z {zv} t {tv}: {x} vs {y}"
                );
            }
        }
        // Saturated: the written form is NaN or infinite, the stable one is the limit.
        for (zv, tv) in [(40.0, 1.0), (-800.0, 0.0), (800.0, 1.0)] {
            assert!(!at(&g, total, &[zv, tv]).is_finite());
            let y = at(&stable.graph, stable.roots[0], &[zv, tv]);
            assert!(y.is_finite(), "z {zv} t {tv}: {y}");
        }
        assert!(
            gradc_graph::count::op_count(&stable.graph, &stable.roots)
                <= gradc_graph::count::op_count(&g, &[total])
        );
    }
}
