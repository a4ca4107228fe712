//! Printing expressions the way the lecture notes write them: text, LaTeX and Graphviz DOT.
//!
//! A [`Listing`] decides once which nodes are printed as named `where` bindings — every
//! non-leaf node used more than once among the printed roots, and every node the user named
//! with `let` — so that shared work is shown once and the output stays linear in the size of the
//! graph. The output is deterministic: bindings come in id (topological) order and automatic
//! names are numbered in that order.

use crate::graph::{Graph, NodeId};
use crate::op::Op;
use rustc_hash::{FxHashMap, FxHashSet};
use std::fmt::Write;

/// How leaves and named nodes are called.
#[derive(Clone, Debug, Default)]
pub struct Naming {
    /// The display name of each flat parameter index (`w[3]`).
    pub params: Vec<String>,
    /// The display name of each flat input index (`x[2]`).
    pub inputs: Vec<String>,
    /// The user's names for nodes (`let` bindings).
    pub nodes: FxHashMap<NodeId, String>,
    /// Names that automatic binding names must avoid.
    pub reserved: FxHashSet<String>,
}

/// The output notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notation {
    Text,
    Latex,
}

/// Roots to print plus the `where` bindings they share.
#[derive(Clone, Debug)]
pub struct Listing {
    /// `(name, node)` in topological order: each binding uses only earlier ones.
    pub bindings: Vec<(String, NodeId)>,
    names: FxHashMap<NodeId, String>,
}

impl Listing {
    /// Chooses the bindings for printing `roots` together.
    pub fn new(graph: &Graph, roots: &[NodeId], naming: &Naming) -> Listing {
        let cone = graph.cone(roots);
        let mut uses: FxHashMap<NodeId, usize> = FxHashMap::default();
        for &id in &cone {
            for &arg in graph.args(id) {
                *uses.entry(arg).or_default() += 1;
            }
        }
        let root_set: FxHashSet<NodeId> = roots.iter().copied().collect();
        let mut bindings = Vec::new();
        let mut names: FxHashMap<NodeId, String> = FxHashMap::default();
        let mut taken: FxHashSet<String> = naming.reserved.clone();
        taken.extend(naming.nodes.values().cloned());
        let mut counter = 0usize;
        for &id in &cone {
            let op = graph.op(id);
            if op.is_leaf() || is_trivial(graph, id) {
                continue;
            }
            let used = uses.get(&id).copied().unwrap_or(0);
            let user_name = naming.nodes.get(&id);
            let shared = used >= 2 || (used >= 1 && root_set.contains(&id));
            if !(shared || (user_name.is_some() && used >= 1)) {
                continue;
            }
            let name = match user_name {
                Some(name) => name.clone(),
                None => loop {
                    counter += 1;
                    let candidate = format!("t{counter}");
                    if !taken.contains(&candidate) {
                        break candidate;
                    }
                },
            };
            names.insert(id, name.clone());
            bindings.push((name, id));
        }
        Listing { bindings, names }
    }

    /// The expression of a node, referring to bindings by name (except for the node itself).
    pub fn expression(
        &self,
        graph: &Graph,
        id: NodeId,
        naming: &Naming,
        notation: Notation,
    ) -> String {
        let mut out = String::new();
        Writer {
            graph,
            listing: self,
            naming,
            notation,
        }
        .node(&mut out, id, 0, true);
        out
    }

    /// The name a node is printed as, if it is bound.
    pub fn name_of(&self, id: NodeId) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }
}

/// A negated leaf or a constant is shorter than any name for it.
fn is_trivial(graph: &Graph, id: NodeId) -> bool {
    graph.op(id) == Op::Neg && graph.op(graph.args(id)[0]).is_leaf()
}

// Binding strength, loosest first.
const IF: u8 = 0;
const CMP: u8 = 1;
const SUM: u8 = 2;
const PRODUCT: u8 = 3;
const UNARY: u8 = 4;
const POWER: u8 = 5;
const ATOM: u8 = 6;

struct Writer<'a> {
    graph: &'a Graph,
    listing: &'a Listing,
    naming: &'a Naming,
    notation: Notation,
}

impl Writer<'_> {
    /// Writes node `id` in a context that needs binding strength at least `min`.
    fn node(&self, out: &mut String, id: NodeId, min: u8, top: bool) {
        if !top && let Some(name) = self.listing.names.get(&id) {
            out.push_str(&self.name(name));
            return;
        }
        let strength = self.strength(id);
        let parenthesize = strength < min;
        if parenthesize {
            out.push_str(self.open());
        }
        self.body(out, id);
        if parenthesize {
            out.push_str(self.close());
        }
    }

    fn open(&self) -> &'static str {
        match self.notation {
            Notation::Text => "(",
            Notation::Latex => "\\left(",
        }
    }

    fn close(&self) -> &'static str {
        match self.notation {
            Notation::Text => ")",
            Notation::Latex => "\\right)",
        }
    }

    fn name(&self, name: &str) -> String {
        match self.notation {
            Notation::Text => name.to_string(),
            Notation::Latex => latex_name(name),
        }
    }

    fn strength(&self, id: NodeId) -> u8 {
        match self.graph.op(id) {
            Op::Const(bits) if f64::from_bits(bits).is_sign_negative() => UNARY,
            Op::Const(_) | Op::Param(_) | Op::Input(_) => ATOM,
            Op::Add | Op::Sub => SUM,
            Op::Mul => PRODUCT,
            Op::Div if self.notation == Notation::Latex => ATOM,
            Op::Div => PRODUCT,
            Op::Neg => UNARY,
            Op::Pow => POWER,
            Op::Cmp(_) => CMP,
            Op::If => IF,
            _ => ATOM,
        }
    }

    fn body(&self, out: &mut String, id: NodeId) {
        let graph = self.graph;
        let args = graph.args(id);
        let latex = self.notation == Notation::Latex;
        match graph.op(id) {
            Op::Const(bits) => out.push_str(&format_number(f64::from_bits(bits))),
            Op::Param(i) => out.push_str(&self.leaf_name(&self.naming.params, i, "param")),
            Op::Input(i) => out.push_str(&self.leaf_name(&self.naming.inputs, i, "input")),
            Op::Add => {
                // `a + -2 * b` reads `a - 2 * b`: a right operand printed (without parentheses)
                // with a leading minus is a sum whose first term is negated.
                self.node(out, args[0], SUM, false);
                let mut right = String::new();
                self.node(&mut right, args[1], SUM, false);
                match right.strip_prefix('-') {
                    Some(rest) => {
                        out.push_str(" - ");
                        out.push_str(rest);
                    }
                    None => {
                        out.push_str(" + ");
                        out.push_str(&right);
                    }
                }
            }
            Op::Sub => self.infix(out, args, " - ", SUM, PRODUCT),
            Op::Mul if latex => self.infix(out, args, " \\cdot ", PRODUCT, PRODUCT),
            Op::Mul => self.infix(out, args, " * ", PRODUCT, PRODUCT),
            Op::Div if latex => {
                out.push_str("\\frac{");
                self.node(out, args[0], 0, false);
                out.push_str("}{");
                self.node(out, args[1], 0, false);
                out.push('}');
            }
            Op::Div => self.infix(out, args, " / ", PRODUCT, UNARY),
            Op::Neg => {
                out.push('-');
                self.node(out, args[0], UNARY + 1, false);
            }
            Op::Pow => {
                self.node(out, args[0], ATOM, false);
                if latex {
                    out.push_str("^{");
                    self.node(out, args[1], 0, false);
                    out.push('}');
                } else {
                    out.push_str(" ^ ");
                    self.node(out, args[1], POWER, false);
                }
            }
            Op::Cmp(c) => {
                let symbol = match (latex, c.symbol()) {
                    (true, "<=") => "\\le".to_string(),
                    (true, ">=") => "\\ge".to_string(),
                    (true, "!=") => "\\ne".to_string(),
                    (true, "==") => "=".to_string(),
                    (_, s) => s.to_string(),
                };
                self.infix(out, args, &format!(" {symbol} "), SUM, SUM)
            }
            Op::If => {
                let (kw_if, kw_then, kw_else) = if latex {
                    ("\\text{if } ", " \\text{ then } ", " \\text{ else } ")
                } else {
                    ("if ", " then ", " else ")
                };
                out.push_str(kw_if);
                self.node(out, args[0], CMP, false);
                out.push_str(kw_then);
                self.node(out, args[1], SUM, false);
                out.push_str(kw_else);
                self.node(out, args[2], IF, false);
            }
            op => self.call(out, op, args),
        }
    }

    fn leaf_name(&self, names: &[String], index: u32, kind: &str) -> String {
        let name = names
            .get(index as usize)
            .cloned()
            .unwrap_or_else(|| format!("{kind}#{index}"));
        self.name(&name)
    }

    fn infix(&self, out: &mut String, args: &[NodeId], symbol: &str, left: u8, right: u8) {
        self.node(out, args[0], left, false);
        out.push_str(symbol);
        self.node(out, args[1], right, false);
    }

    fn call(&self, out: &mut String, op: Op, args: &[NodeId]) {
        let latex = self.notation == Notation::Latex;
        if latex && op == Op::Sqrt {
            out.push_str("\\sqrt{");
            self.node(out, args[0], 0, false);
            out.push('}');
            return;
        }
        let name = if latex {
            match op {
                Op::Exp | Op::Log | Op::Sin | Op::Cos | Op::Tan | Op::Tanh => {
                    format!("\\{}", op.name())
                }
                Op::Sigmoid => "\\sigma".to_string(),
                Op::Atan => "\\arctan".to_string(),
                Op::Max | Op::Min => format!("\\{}", op.name()),
                other => format!("\\operatorname{{{}}}", other.name().replace('_', "\\_")),
            }
        } else {
            op.name().to_string()
        };
        out.push_str(&name);
        out.push_str(self.open());
        for (i, &arg) in args.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            self.node(out, arg, 0, false);
        }
        out.push_str(self.close());
    }
}

/// The shortest text that reads back as the same f64: `2`, `0.5`, `1e-8`.
pub fn format_number(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:?}")
    }
}

/// `w[3]` → `w_{3}`, `W[1][2]` → `W_{1,2}`, `t12` → `t_{12}`, `W1` → `W_{1}`.
pub fn latex_name(name: &str) -> String {
    let (base, indices) = match name.find('[') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    let split = base
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map(|(i, _)| i)
        .filter(|&i| i > 0);
    let (stem, digits) = match split {
        Some(i) => (&base[..i], &base[i..]),
        None => (base, ""),
    };
    let mut subscripts: Vec<String> = Vec::new();
    if !digits.is_empty() {
        subscripts.push(digits.to_string());
    }
    subscripts.extend(
        indices
            .split(['[', ']'])
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    );
    let stem = stem.replace('_', "\\_");
    let stem = if stem.chars().count() > 1 {
        format!("\\mathrm{{{stem}}}")
    } else {
        stem
    };
    if subscripts.is_empty() {
        stem
    } else {
        format!("{stem}_{{{}}}", subscripts.join(","))
    }
}

/// The Graphviz DOT rendering of the cone of `roots`, one node per graph node, operands
/// pointing at their users, and each root labelled.
pub fn dot(graph: &Graph, roots: &[(String, NodeId)], naming: &Naming) -> String {
    let ids: Vec<NodeId> = roots.iter().map(|(_, id)| *id).collect();
    let mut out =
        String::from("digraph gradient {\n  rankdir=BT;\n  node [fontname=\"Helvetica\"];\n");
    for id in graph.cone(&ids) {
        let (label, shape) = match graph.op(id) {
            Op::Const(bits) => (format_number(f64::from_bits(bits)), "plaintext"),
            Op::Param(i) => (
                naming.params.get(i as usize).cloned().unwrap_or_default(),
                "box",
            ),
            Op::Input(i) => (
                naming.inputs.get(i as usize).cloned().unwrap_or_default(),
                "note",
            ),
            op => (op.name().to_string(), "ellipse"),
        };
        let label = match naming.nodes.get(&id) {
            Some(name) if !graph.op(id).is_leaf() => format!("{label}\\n({name})"),
            _ => label,
        };
        let _ = writeln!(
            out,
            "  n{} [label=\"{}\", shape={shape}];",
            id.0,
            escape(&label)
        );
        for (position, &arg) in graph.args(id).iter().enumerate() {
            let _ = writeln!(out, "  n{} -> n{} [label=\"{position}\"];", arg.0, id.0);
        }
    }
    for (i, (name, id)) in roots.iter().enumerate() {
        let _ = writeln!(
            out,
            "  r{i} [label=\"{}\", shape=doubleoctagon];",
            escape(name)
        );
        let _ = writeln!(out, "  n{} -> r{i};", id.0);
    }
    out.push_str("}\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace("\\\\n", "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming() -> Naming {
        Naming {
            params: vec!["w".into(), "b".into()],
            inputs: vec!["x".into(), "y".into()],
            ..Naming::default()
        }
    }

    #[test]
    fn precedence_and_associativity() {
        let mut g = Graph::new();
        let (w, b, x) = (g.param(0), g.param(1), g.input(0));
        let sum = g.add2(w, b);
        let product = g.mul(sum, x);
        let diff = g.sub(w, sum);
        let neg = g.neg(product);
        let two = g.constant(2.0);
        let square = g.binary(Op::Pow, neg, two);
        let listing = Listing::new(&g, &[square, diff], &naming());
        let text = listing.expression(&g, square, &naming(), Notation::Text);
        assert_eq!(text, "(-(t1 * x)) ^ 2");
        let text = listing.expression(&g, diff, &naming(), Notation::Text);
        assert_eq!(text, "w - t1");
        assert_eq!(listing.bindings.len(), 1);
    }

    #[test]
    fn numbers_read_back() {
        assert_eq!(format_number(2.0), "2");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(1e-8), "1e-8");
        assert_eq!(format_number(-1.5), "-1.5");
    }

    #[test]
    fn latex_names() {
        assert_eq!(latex_name("w[3]"), "w_{3}");
        assert_eq!(latex_name("W1[0][2]"), "W_{1,0,2}");
        assert_eq!(latex_name("t12"), "t_{12}");
        assert_eq!(latex_name("x"), "x");
    }
}
