//! The hash-consed scalar expression DAG.
//!
//! Nodes are created only through [`Graph::add`], which returns the existing node when an equal
//! one (same operation, same operands) is already present, so every distinct subexpression exists
//! once. Operands are always created before their users, so **node index order is a topological
//! order**; every pass relies on that instead of sorting.
//!
//! petgraph holds the topology (an edge from each operand to its user, weighted by the operand
//! position) so that users of a node can be walked; the payload (operation and operand list) lives
//! in a side table indexed by the same id, which is what the hot loops read.

use crate::op::Op;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rustc_hash::FxHashMap;

/// A node of a [`Graph`]. Ids are dense and increase in topological order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A node's payload: its operation and its operands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    pub op: Op,
    pub args: Vec<NodeId>,
}

/// Facts about a node that every later stage needs, computed once when the node is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeFlags {
    /// Depends on an `input` outside of any row reduction: has one value per data row.
    pub per_row: bool,
    /// Depends on a parameter (possibly through a row reduction): has a non-zero derivative.
    pub depends_on_param: bool,
    /// Depends on a row reduction (directly or through operands).
    pub has_reduction: bool,
    /// The number of nested row reductions below this node: row-free leaves and per-row nodes
    /// built only on them are stage 0, a reduction is one more than its operand, and other nodes
    /// take the maximum of their operands. The interpreter and code generator evaluate stage by
    /// stage, one pass over the rows per stage.
    pub stage: u32,
}

/// The expression DAG. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Topology only: an edge from operand to user, weighted by the operand position.
    topology: DiGraph<(), u8, u32>,
    /// Payloads, indexed by `NodeId`.
    nodes: Vec<Node>,
    /// Derived facts, indexed by `NodeId`.
    flags: Vec<NodeFlags>,
    /// The hash-consing table: one id per distinct node.
    interned: FxHashMap<Node, NodeId>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn op(&self, id: NodeId) -> Op {
        self.nodes[id.index()].op
    }

    pub fn args(&self, id: NodeId) -> &[NodeId] {
        &self.nodes[id.index()].args
    }

    pub fn flags(&self, id: NodeId) -> NodeFlags {
        self.flags[id.index()]
    }

    /// All node ids in topological order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.nodes.len() as u32).map(NodeId)
    }

    /// The users of a node (each once, in increasing id order).
    pub fn users(&self, id: NodeId) -> Vec<NodeId> {
        let mut users: Vec<NodeId> = self
            .topology
            .edges_directed(NodeIndex::new(id.index()), petgraph::Direction::Outgoing)
            .map(|edge| NodeId(edge.target().index() as u32))
            .collect();
        users.sort_unstable();
        users.dedup();
        users
    }

    /// The underlying petgraph topology, for algorithms and visualisation.
    pub fn topology(&self) -> &DiGraph<(), u8, u32> {
        &self.topology
    }

    /// Adds a node, or returns the equal node that already exists.
    ///
    /// # Panics
    /// When the operand count does not match the operation's arity or an operand id is not in
    /// this graph: both are bugs in the caller, never caused by user input.
    pub fn add(&mut self, op: Op, args: &[NodeId]) -> NodeId {
        if let Some(arity) = op.arity() {
            assert_eq!(arity, args.len(), "wrong operand count for {op:?}");
        }
        assert!(
            args.iter().all(|a| a.index() < self.nodes.len()),
            "operand of {op:?} is not in the graph"
        );
        let node = Node {
            op,
            args: args.to_vec(),
        };
        if let Some(&id) = self.interned.get(&node) {
            return id;
        }
        let id = NodeId(self.nodes.len() as u32);
        let index = self.topology.add_node(());
        debug_assert_eq!(index.index(), id.index());
        for (position, &arg) in args.iter().enumerate() {
            self.topology
                .add_edge(NodeIndex::new(arg.index()), index, position as u8);
        }
        self.flags.push(self.compute_flags(op, args));
        self.nodes.push(node.clone());
        self.interned.insert(node, id);
        id
    }

    fn compute_flags(&self, op: Op, args: &[NodeId]) -> NodeFlags {
        let mut flags = NodeFlags::default();
        match op {
            Op::Param(_) => flags.depends_on_param = true,
            Op::Input(_) => flags.per_row = true,
            _ => {}
        }
        for &arg in args {
            let f = self.flags[arg.index()];
            flags.per_row |= f.per_row;
            flags.depends_on_param |= f.depends_on_param;
            flags.has_reduction |= f.has_reduction;
            flags.stage = flags.stage.max(f.stage);
        }
        if op.is_row_reduction() {
            flags.per_row = false;
            flags.has_reduction = true;
            flags.stage += 1;
        }
        flags
    }

    // Convenience constructors. They do no simplification beyond hash-consing: folding and
    // algebra are the simplifier's job, so that the unsimplified graph is an honest baseline.

    pub fn constant(&mut self, value: f64) -> NodeId {
        self.add(Op::constant(value), &[])
    }

    pub fn param(&mut self, index: u32) -> NodeId {
        self.add(Op::Param(index), &[])
    }

    pub fn input(&mut self, index: u32) -> NodeId {
        self.add(Op::Input(index), &[])
    }

    pub fn unary(&mut self, op: Op, a: NodeId) -> NodeId {
        self.add(op, &[a])
    }

    pub fn binary(&mut self, op: Op, a: NodeId, b: NodeId) -> NodeId {
        self.add(op, &[a, b])
    }

    pub fn add2(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.add(Op::Add, &[a, b])
    }

    pub fn sub(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.add(Op::Sub, &[a, b])
    }

    pub fn mul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.add(Op::Mul, &[a, b])
    }

    pub fn div(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.add(Op::Div, &[a, b])
    }

    pub fn neg(&mut self, a: NodeId) -> NodeId {
        self.add(Op::Neg, &[a])
    }

    pub fn if_then_else(&mut self, cond: NodeId, then: NodeId, otherwise: NodeId) -> NodeId {
        self.add(Op::If, &[cond, then, otherwise])
    }

    /// The sum of many terms as a left-to-right chain of additions (`0` for no terms).
    pub fn sum_of(&mut self, terms: &[NodeId]) -> NodeId {
        match terms.split_first() {
            None => self.constant(0.0),
            Some((&first, rest)) => rest.iter().fold(first, |acc, &t| self.add2(acc, t)),
        }
    }

    /// Nodes reachable from the roots (including them), in topological order.
    pub fn cone(&self, roots: &[NodeId]) -> Vec<NodeId> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut seen[id.index()], true) {
                continue;
            }
            stack.extend(self.args(id).iter().copied());
        }
        seen.iter()
            .enumerate()
            .filter(|(_, s)| **s)
            .map(|(i, _)| NodeId(i as u32))
            .collect()
    }

    /// Copies the cone of `roots` from `other` into this graph, returning the new ids of the roots.
    pub fn import(&mut self, other: &Graph, roots: &[NodeId]) -> Vec<NodeId> {
        let mut map: FxHashMap<NodeId, NodeId> = FxHashMap::default();
        for id in other.cone(roots) {
            let node = other.node(id);
            let args: Vec<NodeId> = node.args.iter().map(|a| map[a]).collect();
            map.insert(id, self.add(node.op, &args));
        }
        roots.iter().map(|r| map[r]).collect()
    }
}
