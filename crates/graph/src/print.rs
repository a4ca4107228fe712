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

    /// No bindings: every expression is printed whole.
    pub fn inline() -> Listing {
        Listing {
            bindings: Vec::new(),
            names: FxHashMap::default(),
        }
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

/// One piece of output still to be written. The writer works through a stack of these rather
/// than recursing, so that an expression thousands of levels deep (a sum of 50,000 terms is a
/// chain of 50,000 additions) prints without exhausting the thread's stack.
enum Task {
    /// Node `id` in a context that needs binding strength at least `min`; `top` for the
    /// expression being printed (never replaced by its own name); `strip_minus` to leave out
    /// the leading `-` that [`Writer::starts_with_minus`] found (`a + -b` reads `a - b`).
    Node {
        id: NodeId,
        min: u8,
        top: bool,
        strip_minus: bool,
    },
    Text(String),
}

fn node(id: NodeId, min: u8) -> Task {
    Task::Node {
        id,
        min,
        top: false,
        strip_minus: false,
    }
}

fn text(text: &str) -> Task {
    Task::Text(text.to_string())
}

impl Writer<'_> {
    /// Writes node `id` in a context that needs binding strength at least `min`.
    fn node(&self, out: &mut String, id: NodeId, min: u8, top: bool) {
        let mut stack = vec![Task::Node {
            id,
            min,
            top,
            strip_minus: false,
        }];
        while let Some(task) = stack.pop() {
            match task {
                Task::Text(text) => out.push_str(&text),
                Task::Node {
                    id,
                    min,
                    top,
                    strip_minus,
                } => {
                    if !top && let Some(name) = self.listing.names.get(&id) {
                        out.push_str(&self.name(name));
                        continue;
                    }
                    let parenthesize = self.strength(id) < min;
                    let mut tasks = Vec::new();
                    if parenthesize {
                        tasks.push(text(self.open()));
                    }
                    self.body(&mut tasks, id, strip_minus && !parenthesize);
                    if parenthesize {
                        tasks.push(text(self.close()));
                    }
                    stack.extend(tasks.into_iter().rev());
                }
            }
        }
    }

    /// Whether node `id`, written in a context that needs strength `min`, starts with `-`: a
    /// negative constant or a negation, possibly as the first operand of sums, products and
    /// powers written without parentheses.
    fn starts_with_minus(&self, mut id: NodeId, mut min: u8) -> bool {
        let latex = self.notation == Notation::Latex;
        loop {
            if self.listing.names.contains_key(&id) || self.strength(id) < min {
                return false;
            }
            (id, min) = match self.graph.op(id) {
                Op::Const(bits) => return f64::from_bits(bits) < 0.0,
                Op::Neg => return true,
                Op::Add | Op::Sub => (self.graph.args(id)[0], SUM),
                Op::Mul => (self.graph.args(id)[0], PRODUCT),
                Op::Div if !latex => (self.graph.args(id)[0], PRODUCT),
                Op::Pow => (self.graph.args(id)[0], ATOM),
                _ => return false,
            };
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

    /// The tasks that write node `id` itself (without parentheses around it), in order.
    fn body(&self, tasks: &mut Vec<Task>, id: NodeId, strip_minus: bool) {
        let graph = self.graph;
        let args = graph.args(id);
        let latex = self.notation == Notation::Latex;
        // The first operand of an infix operator carries the leading minus, if any.
        let first = |id: NodeId, min: u8| Task::Node {
            id,
            min,
            top: false,
            strip_minus,
        };
        match graph.op(id) {
            Op::Const(bits) => {
                let value = f64::from_bits(bits);
                let value = if strip_minus { -value } else { value };
                tasks.push(Task::Text(format_number(value)));
            }
            Op::Param(i) => tasks.push(Task::Text(self.leaf_name(&self.naming.params, i, "param"))),
            Op::Input(i) => tasks.push(Task::Text(self.leaf_name(&self.naming.inputs, i, "input"))),
            Op::Add => {
                // `a + -2 * b` reads `a - 2 * b`: a right operand written (without parentheses)
                // with a leading minus is a sum whose first term is negated.
                tasks.push(first(args[0], SUM));
                if self.starts_with_minus(args[1], SUM) {
                    tasks.push(text(" - "));
                    tasks.push(Task::Node {
                        id: args[1],
                        min: SUM,
                        top: false,
                        strip_minus: true,
                    });
                } else {
                    tasks.push(text(" + "));
                    tasks.push(node(args[1], SUM));
                }
            }
            Op::Sub => tasks.extend([first(args[0], SUM), text(" - "), node(args[1], PRODUCT)]),
            Op::Mul => {
                let symbol = if latex { " \\cdot " } else { " * " };
                tasks.extend([
                    first(args[0], PRODUCT),
                    text(symbol),
                    node(args[1], PRODUCT),
                ]);
            }
            Op::Div if latex => tasks.extend([
                text("\\frac{"),
                node(args[0], 0),
                text("}{"),
                node(args[1], 0),
                text("}"),
            ]),
            Op::Div => tasks.extend([first(args[0], PRODUCT), text(" / "), node(args[1], UNARY)]),
            Op::Neg => {
                if !strip_minus {
                    tasks.push(text("-"));
                }
                tasks.push(node(args[0], UNARY + 1));
            }
            Op::Pow => {
                tasks.push(first(args[0], ATOM));
                if latex {
                    tasks.extend([text("^{"), node(args[1], 0), text("}")]);
                } else {
                    tasks.extend([text(" ^ "), node(args[1], POWER)]);
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
                tasks.extend([
                    first(args[0], SUM),
                    Task::Text(format!(" {symbol} ")),
                    node(args[1], SUM),
                ]);
            }
            Op::If => {
                let (kw_if, kw_then, kw_else) = if latex {
                    ("\\text{if } ", " \\text{ then } ", " \\text{ else } ")
                } else {
                    ("if ", " then ", " else ")
                };
                tasks.extend([
                    text(kw_if),
                    node(args[0], CMP),
                    text(kw_then),
                    node(args[1], SUM),
                    text(kw_else),
                    node(args[2], IF),
                ]);
            }
            op => self.call(tasks, op, args),
        }
    }

    fn leaf_name(&self, names: &[String], index: u32, kind: &str) -> String {
        let name = names
            .get(index as usize)
            .cloned()
            .unwrap_or_else(|| format!("{kind}#{index}"));
        self.name(&name)
    }

    fn call(&self, tasks: &mut Vec<Task>, op: Op, args: &[NodeId]) {
        let latex = self.notation == Notation::Latex;
        if latex && op == Op::Sqrt {
            tasks.extend([text("\\sqrt{"), node(args[0], 0), text("}")]);
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
        tasks.push(Task::Text(name));
        tasks.push(text(self.open()));
        for (i, &arg) in args.iter().enumerate() {
            if i > 0 {
                tasks.push(text(", "));
            }
            tasks.push(node(arg, 0));
        }
        tasks.push(text(self.close()));
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

/// A number for a person to read, as numpy and R print one: 8 significant digits with trailing
/// zeros dropped (`1.0137702`), scientific notation below 1e-4 and from 1e8 (`2.5e-07`,
/// `1.0100451e+30`), `0` for either zero, `NaN`, `inf`, `-inf`.
pub fn format_short(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Rounding to 8 significant digits first gives the exponent of the printed number
    // (9.99999999 prints as 10).
    let scientific = format!("{value:.7e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..8).contains(&exponent) {
        let decimals = (7 - exponent).max(0) as usize;
        trim_zeros(&format!("{value:.decimals$}")).to_string()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exponent.abs())
    }
}

/// `1.2500` → `1.25`, `3.000` → `3`; a number without a decimal point is unchanged.
fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
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
    fn a_chain_deeper_than_the_stack_prints() {
        // 200,000 nested additions: a recursive printer needs far more than a test thread's
        // 2 MiB of stack.
        let mut g = Graph::new();
        let w = g.param(0);
        let mut sum = g.neg(w);
        for k in 1..200_000 {
            let c = g.constant(k as f64);
            let term = g.mul(c, w);
            sum = g.add2(sum, term);
        }
        let naming = naming();
        for notation in [Notation::Text, Notation::Latex] {
            let text = Listing::inline().expression(&g, sum, &naming, notation);
            assert!(text.starts_with("-w + 1"), "{}", &text[..40]);
        }
        let listing = Listing::new(&g, &[sum], &naming);
        let text = listing.expression(&g, sum, &naming, Notation::Text);
        assert!(
            text.ends_with(" + 199999 * w"),
            "{}",
            &text[text.len() - 40..]
        );
    }

    #[test]
    fn a_negated_right_operand_reads_as_a_subtraction() {
        let mut g = Graph::new();
        let (w, b) = (g.param(0), g.param(1));
        let two = g.constant(-2.0);
        let scaled = g.mul(two, b);
        let sum = g.add2(w, scaled);
        let negated = g.neg(b);
        let power = g.binary(Op::Pow, negated, w);
        let other = g.add2(w, power);
        let naming = naming();
        let listing = Listing::inline();
        assert_eq!(
            listing.expression(&g, sum, &naming, Notation::Text),
            "w - 2 * b"
        );
        assert_eq!(
            listing.expression(&g, other, &naming, Notation::Text),
            "w + (-b) ^ w"
        );
    }

    #[test]
    fn numbers_read_back() {
        assert_eq!(format_number(2.0), "2");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(1e-8), "1e-8");
        assert_eq!(format_number(-1.5), "-1.5");
    }

    #[test]
    fn short_numbers_read_as_numpy_prints_them() {
        let cases = [
            (1.013770152691, "1.0137702"),
            (-0.0, "0"),
            (0.5, "0.5"),
            (3.0, "3"),
            (9.999999999, "10"),
            (123456789.0, "1.2345679e+08"),
            (1.2345e7, "12345000"),
            (2.5e-7, "2.5e-07"),
            (0.00012, "0.00012"),
            (-1.010045120211363e30, "-1.0100451e+30"),
            (4.145563839992565e35, "4.1455638e+35"),
            (f64::MAX, "1.7976931e+308"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, text) in cases {
            assert_eq!(format_short(value), text, "{value:e}");
        }
    }

    #[test]
    fn latex_names() {
        assert_eq!(latex_name("w[3]"), "w_{3}");
        assert_eq!(latex_name("W1[0][2]"), "W_{1,0,2}");
        assert_eq!(latex_name("t12"), "t_{12}");
        assert_eq!(latex_name("x"), "x");
    }
}
