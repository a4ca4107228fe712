//! The e-graph language: one e-node per [`Op`], and the analysis that folds constants and
//! tracks what is known about a class (row dependence, sign).

use egg::{DidMerge, EGraph, Id, Language};
use gradc_graph::Op;
use std::fmt;

/// An e-node: an operation and the classes of its operands.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ENode {
    pub op: Op,
    pub args: Vec<Id>,
}

impl Language for ENode {
    type Discriminant = Op;

    fn discriminant(&self) -> Op {
        self.op
    }

    fn matches(&self, other: &Self) -> bool {
        self.op == other.op && self.args.len() == other.args.len()
    }

    fn children(&self) -> &[Id] {
        &self.args
    }

    fn children_mut(&mut self) -> &mut [Id] {
        &mut self.args
    }
}

impl fmt::Display for ENode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            Op::Const(bits) => write!(f, "{}", f64::from_bits(bits)),
            Op::Param(i) => write!(f, "p{i}"),
            Op::Input(i) => write!(f, "x{i}"),
            op => f.write_str(op.name()),
        }
    }
}

/// The pattern syntax of the rule table: operator names as [`Op::name`] prints them, numbers
/// for constants.
impl egg::FromOp for ENode {
    type Error = String;

    fn from_op(name: &str, args: Vec<Id>) -> Result<Self, String> {
        let op = match Op::from_name(name) {
            Some(op) => op,
            None => match name.parse::<f64>() {
                Ok(v) => Op::constant(v),
                Err(_) => return Err(format!("unknown operator {name:?}")),
            },
        };
        if op.arity().is_some_and(|n| n != args.len()) {
            return Err(format!("{name} takes {:?} operands", op.arity()));
        }
        Ok(ENode { op, args })
    }
}

/// What is known about every value of an e-class.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The class is this constant (as bits).
    pub constant: Option<u64>,
    /// Some representation of the class reads a data column outside a reduction.
    /// Merged by "and": a class with any row-free representation is row-free.
    pub per_row: bool,
    /// Every real value the class can take is > 0 (where it is defined).
    pub positive: bool,
    /// Every real value the class can take is ≠ 0 (where it is defined).
    pub nonzero: bool,
    /// The fewest terms the class is a sum of (1 for anything that is not `+`/`-`); merged by
    /// minimum. The reassociating rules only fire on short sums, so that a long sum (a dot
    /// product) does not fill the e-graph with its permutations.
    pub terms: u32,
    /// The fewest factors the class is a product of, likewise.
    pub factors: u32,
}

/// Constant folding (through [`Op::apply`], the one definition of every op) and sign facts.
#[derive(Debug, Clone, Default)]
pub struct Analysis;

pub type Egraph = EGraph<ENode, Analysis>;

impl Analysis {
    fn constant_of(egraph: &Egraph, id: Id) -> Option<f64> {
        egraph[id].data.constant.map(f64::from_bits)
    }

    /// Whether the class holds `1 - sigmoid(z)` or `sigmoid(z)`-like forms known to be in (0, 1).
    fn is_one_minus_unit(egraph: &Egraph, enode: &ENode) -> bool {
        enode.op == Op::Sub
            && Self::constant_of(egraph, enode.args[0]) == Some(1.0)
            && egraph[enode.args[1]]
                .nodes
                .iter()
                .any(|n| n.op == Op::Sigmoid)
    }
}

impl egg::Analysis<ENode> for Analysis {
    type Data = Facts;

    fn make(egraph: &mut Egraph, enode: &ENode, _id: Id) -> Facts {
        let data = |i: usize| &egraph[enode.args[i]].data;
        let per_row = match enode.op {
            Op::Input(_) => true,
            Op::RowSum | Op::RowMean => false,
            _ => enode.args.iter().any(|a| egraph[*a].data.per_row),
        };
        let constant = match enode.op {
            Op::Const(bits) => Some(bits),
            Op::Param(_) | Op::Input(_) | Op::RowSum | Op::RowMean => None,
            op => {
                let values: Option<Vec<f64>> = enode
                    .args
                    .iter()
                    .map(|a| Self::constant_of(egraph, *a))
                    .collect();
                values.map(|v| op.apply(&v).to_bits())
            }
        };
        if let Some(bits) = constant {
            let v = f64::from_bits(bits);
            return Facts {
                constant,
                per_row: false,
                positive: v > 0.0,
                nonzero: v != 0.0 && !v.is_nan(),
                terms: 1,
                factors: 1,
            };
        }
        let (terms, factors) = match enode.op {
            Op::Add | Op::Sub => (data(0).terms.saturating_add(data(1).terms), 1),
            Op::Mul | Op::Div => (1, data(0).factors.saturating_add(data(1).factors)),
            _ => (1, 1),
        };
        let positive = match enode.op {
            Op::Exp | Op::Sigmoid | Op::Softplus => true,
            Op::Add | Op::Mul | Op::Div => data(0).positive && data(1).positive,
            Op::RowMean | Op::RowSum => data(0).positive,
            Op::Sub => Self::is_one_minus_unit(egraph, enode),
            _ => false,
        };
        let nonzero = positive
            || match enode.op {
                Op::Neg => data(0).nonzero,
                Op::Mul => data(0).nonzero && data(1).nonzero,
                Op::Div => data(0).nonzero,
                Op::Exp => true,
                _ => false,
            };
        Facts {
            constant: None,
            per_row,
            positive,
            nonzero,
            terms,
            factors,
        }
    }

    fn merge(&mut self, a: &mut Facts, b: Facts) -> DidMerge {
        let before = a.clone();
        if a.constant.is_none() {
            a.constant = b.constant;
        }
        a.per_row &= b.per_row;
        a.positive |= b.positive;
        a.nonzero |= b.nonzero;
        a.terms = a.terms.min(b.terms);
        a.factors = a.factors.min(b.factors);
        DidMerge(*a != before, *a != b)
    }

    fn modify(egraph: &mut Egraph, id: Id) {
        if let Some(bits) = egraph[id].data.constant {
            let added = egraph.add(ENode {
                op: Op::Const(bits),
                args: Vec::new(),
            });
            egraph.union(id, added);
        }
    }
}

/// The value of a class that is a constant.
pub fn constant(egraph: &Egraph, id: Id) -> Option<f64> {
    egraph[id].data.constant.map(f64::from_bits)
}
