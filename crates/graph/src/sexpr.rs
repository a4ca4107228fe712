//! The s-expression text of an expression: [`Graph::sexpr`] prints it, [`Graph::from_sexpr`]
//! reads it back.
//!
//! A leaf is written as [`Op`]'s `Display` writes it (`1.5`, `-0`, `inf`, `NaN`, `param#3`,
//! `input#0`), every other node as `(name operand…)` with [`Op::name`]. The printer repeats a
//! shared node at each use, so the text is a tree; the reader hash-conses it back into a DAG.
//! `from_sexpr(g.sexpr(root))` therefore rebuilds the cone of `root` (with its own node ids),
//! and printing that gives the same text again. Constants round-trip exactly, since Rust
//! prints an `f64` in the shortest form that parses back to the same value; only the payload
//! bits of a NaN are not kept.
//!
//! Both directions use an explicit stack instead of recursion: a chain of a hundred thousand
//! operations (a long sum, a deep network) must not overflow the thread's stack.
//!
//! The text is meant for tests and debugging: stage fixtures are written in it, and failing
//! property tests print their expressions in it.

use crate::graph::{Graph, NodeId};
use crate::op::Op;
use std::fmt::Write;

/// Why a text is not the s-expression of a graph. Every variant carries the byte offset of the
/// problem in the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SexprError {
    #[error("expected an expression at byte {offset}")]
    Missing { offset: usize },
    #[error("unexpected text after the expression at byte {offset}")]
    Trailing { offset: usize },
    #[error("unmatched `)` at byte {offset}")]
    Unmatched { offset: usize },
    #[error("unclosed `(` at byte {offset}")]
    Unclosed { offset: usize },
    #[error("expected an operation name after `(` at byte {offset}")]
    NoOperation { offset: usize },
    #[error("unknown operation `{name}` at byte {offset}")]
    UnknownOperation { name: String, offset: usize },
    #[error("`{text}` at byte {offset} is not a number, `param#N` or `input#N`")]
    BadLeaf { text: String, offset: usize },
    #[error("`{name}` at byte {offset} takes {expected} operands, not {found}")]
    Arity {
        name: &'static str,
        expected: usize,
        found: usize,
        offset: usize,
    },
}

impl SexprError {
    /// The byte offset of the problem in the text.
    pub fn offset(&self) -> usize {
        match *self {
            SexprError::Missing { offset }
            | SexprError::Trailing { offset }
            | SexprError::Unmatched { offset }
            | SexprError::Unclosed { offset }
            | SexprError::NoOperation { offset }
            | SexprError::UnknownOperation { offset, .. }
            | SexprError::BadLeaf { offset, .. }
            | SexprError::Arity { offset, .. } => offset,
        }
    }
}

impl Graph {
    /// The expression under `root` as a tree in prefix notation (see the module
    /// documentation). Shared nodes are repeated, so the text can be exponentially longer than
    /// the graph: use it on small graphs, or on deep but unshared ones.
    pub fn sexpr(&self, root: NodeId) -> String {
        /// What remains to be written: a node, or the text that closes or separates operands.
        enum Item {
            Node(NodeId),
            Text(&'static str),
        }
        let mut out = String::new();
        let mut stack = vec![Item::Node(root)];
        while let Some(item) = stack.pop() {
            let id = match item {
                Item::Text(text) => {
                    out.push_str(text);
                    continue;
                }
                Item::Node(id) => id,
            };
            let node = self.node(id);
            if node.op.is_leaf() {
                let _ = write!(out, "{}", node.op);
                continue;
            }
            out.push('(');
            out.push_str(node.op.name());
            stack.push(Item::Text(")"));
            for &arg in node.args.iter().rev() {
                stack.push(Item::Node(arg));
                stack.push(Item::Text(" "));
            }
        }
        out
    }

    /// Reads one expression written as [`Graph::sexpr`] writes it into a new graph, and returns
    /// the graph with the expression's root. Surrounding whitespace is allowed; anything else
    /// after the expression is an error.
    pub fn from_sexpr(text: &str) -> Result<(Graph, NodeId), SexprError> {
        let mut graph = Graph::new();
        let roots = graph.add_sexprs(text)?;
        match roots.as_slice() {
            [root] => Ok((graph, *root)),
            [] => Err(SexprError::Missing { offset: text.len() }),
            _ => Err(SexprError::Trailing {
                offset: second_expression(text),
            }),
        }
    }

    /// Reads any number of expressions separated by whitespace into a new graph (sharing their
    /// common subexpressions), and returns the graph with one root per expression.
    pub fn from_sexprs(text: &str) -> Result<(Graph, Vec<NodeId>), SexprError> {
        let mut graph = Graph::new();
        let roots = graph.add_sexprs(text)?;
        Ok((graph, roots))
    }

    /// Reads expressions separated by whitespace into this graph (hash-consed with the nodes
    /// already there), and returns one root per expression. On an error the nodes read before
    /// it stay in the graph, unused.
    pub fn add_sexprs(&mut self, text: &str) -> Result<Vec<NodeId>, SexprError> {
        /// An operation whose operands are being read.
        struct Open {
            op: Op,
            name: &'static str,
            /// Where its `(` is, for errors.
            offset: usize,
            args: Vec<NodeId>,
        }
        let mut roots = Vec::new();
        let mut open: Vec<Open> = Vec::new();
        let mut tokens = Tokens { text, at: 0 };
        while let Some((token, offset)) = tokens.next() {
            let id = match token {
                Token::Open => {
                    let Some((Token::Atom(name), name_offset)) = tokens.next() else {
                        return Err(SexprError::NoOperation { offset });
                    };
                    let op = Op::from_name(name).ok_or_else(|| SexprError::UnknownOperation {
                        name: name.to_string(),
                        offset: name_offset,
                    })?;
                    open.push(Open {
                        op,
                        name: op.name(),
                        offset,
                        args: Vec::new(),
                    });
                    continue;
                }
                Token::Close => {
                    let Some(node) = open.pop() else {
                        return Err(SexprError::Unmatched { offset });
                    };
                    if let Some(expected) = node.op.arity()
                        && expected != node.args.len()
                    {
                        return Err(SexprError::Arity {
                            name: node.name,
                            expected,
                            found: node.args.len(),
                            offset: node.offset,
                        });
                    }
                    self.add(node.op, &node.args)
                }
                Token::Atom(atom) => {
                    let op = leaf(atom).ok_or_else(|| SexprError::BadLeaf {
                        text: atom.to_string(),
                        offset,
                    })?;
                    self.add(op, &[])
                }
            };
            match open.last_mut() {
                Some(parent) => parent.args.push(id),
                None => roots.push(id),
            }
        }
        match open.last() {
            Some(node) => Err(SexprError::Unclosed {
                offset: node.offset,
            }),
            None => Ok(roots),
        }
    }
}

/// The leaf that `Op`'s `Display` writes as `text`.
fn leaf(text: &str) -> Option<Op> {
    if let Some(index) = text.strip_prefix("param#") {
        return index.parse().ok().map(Op::Param);
    }
    if let Some(index) = text.strip_prefix("input#") {
        return index.parse().ok().map(Op::Input);
    }
    // A name such as `exp` written without parentheses is not a number either; `parse` accepts
    // `inf`, `NaN` and `infinity`, which is what `Display` writes and a little more.
    text.parse::<f64>().ok().map(Op::constant)
}

/// The offset at which the second top-level expression of `text` starts (`text` has at least
/// two, and no syntax errors).
fn second_expression(text: &str) -> usize {
    let mut depth = 0usize;
    let mut tokens = Tokens { text, at: 0 };
    let mut seen = 0;
    while let Some((token, offset)) = tokens.next() {
        if depth == 0 {
            if seen == 1 {
                return offset;
            }
            seen += 1;
        }
        match token {
            Token::Open => {
                // The operation name belongs to this expression.
                tokens.next();
                depth += 1;
            }
            Token::Close => depth = depth.saturating_sub(1),
            Token::Atom(_) => {}
        }
    }
    text.len()
}

#[derive(Clone, Copy, Debug)]
enum Token<'t> {
    Open,
    Close,
    /// A run of characters other than whitespace and parentheses: a name or a leaf.
    Atom(&'t str),
}

/// The tokens of a text with their byte offsets.
struct Tokens<'t> {
    text: &'t str,
    at: usize,
}

impl<'t> Iterator for Tokens<'t> {
    type Item = (Token<'t>, usize);

    fn next(&mut self) -> Option<(Token<'t>, usize)> {
        let rest = &self.text[self.at..];
        let trimmed = rest.trim_start();
        let start = self.at + (rest.len() - trimmed.len());
        let token = match trimmed.chars().next()? {
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            _ => {
                let len = trimmed
                    .find(|c: char| c.is_whitespace() || c == '(' || c == ')')
                    .unwrap_or(trimmed.len());
                (Token::Atom(&trimmed[..len]), len)
            }
        };
        self.at = start + token.1;
        Some((token.0, start))
    }
}

#[cfg(test)]
mod tests;
