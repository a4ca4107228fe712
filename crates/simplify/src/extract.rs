//! Extraction that respects sharing.
//!
//! egg's `Extractor` minimizes tree cost: a subexpression used k times is counted k times, which
//! on reverse-mode gradients (where every adjoint reuses the forward values) makes costs grow
//! exponentially and the choice meaningless. Here a class's cost is the *set* of classes its
//! choice needs, and its size is the number of distinct operations — greedy DAG extraction
//! (as in extraction-gym's `greedy-dag`). Sets are sorted vectors merged in linear time; for
//! e-graphs too large for that, each child's cost is shared among the e-nodes that use it
//! (an amortized tree cost, linear in the e-graph). The driver compares the result with its input
//! and keeps the input if the extraction is not smaller.

use crate::lang::{ENode, Egraph};
use egg::Id;
use gradc_graph::{Graph, NodeId, Op};
use rustc_hash::{FxHashMap, FxHashSet};
use std::rc::Rc;

/// Above this many e-nodes, use the amortized cost.
const EXACT_LIMIT: usize = 20_000;

/// The chosen e-node of each reachable class.
pub type Choice = FxHashMap<Id, ENode>;

/// E-nodes that were in the input, canonicalized. On a tie, extraction prefers them: what
/// cannot be improved is left as the user (or the differentiator) wrote it.
pub type Original = FxHashSet<ENode>;

/// Below this many chosen classes, the greedy choice is refined by local search.
const REFINE_LIMIT: usize = 1_500;

pub fn extract(egraph: &Egraph, original: &Original, roots: &[Id]) -> Choice {
    let mut choice = if egraph.total_number_of_nodes() <= EXACT_LIMIT {
        greedy_dag(egraph, original)
    } else {
        amortized(egraph, original)
    };
    refine(egraph, &mut choice, roots);
    choice
}

/// Whether extraction may use this e-node. A `log` is numerically unstable wherever the
/// rule table found another form for its class (`-softplus(-z)` for `log(σ(z))`, `log1p`,
/// `logsumexp`…): such a form is taken even where it costs more operations.
fn allowed(egraph: &Egraph, class: Id, node: &ENode) -> bool {
    node.op != Op::Log || egraph[class].nodes.iter().all(|n| n.op == Op::Log)
}

/// The number of operations of the expressions of `roots` under `choice`, or `None` if the
/// choice has a cycle or a missing class.
fn total(egraph: &Egraph, choice: &Choice, roots: &[Id]) -> Option<usize> {
    // 1 = on the path, 2 = done.
    let mut state: FxHashMap<Id, u8> = FxHashMap::default();
    let mut count = 0;
    for &root in roots {
        let mut stack = vec![(egraph.find(root), false)];
        while let Some((class, expanded)) = stack.pop() {
            if expanded {
                state.insert(class, 2);
                continue;
            }
            match state.get(&class) {
                Some(2) => continue,
                Some(_) => return None,
                None => {}
            }
            state.insert(class, 1);
            let node = choice.get(&class)?;
            if !node.op.is_leaf() {
                count += 1;
            }
            stack.push((class, true));
            for a in &node.args {
                let a = egraph.find(*a);
                match state.get(&a) {
                    Some(2) => {}
                    Some(_) => return None,
                    None => stack.push((a, false)),
                }
            }
        }
    }
    Some(count)
}

/// Local search over the greedy choice: for each chosen class, try each other e-node and keep
/// it if the whole extraction gets smaller. Greedy DAG extraction prices a class on its own; this
/// sees sharing between siblings (`w·(2·mean(x)) + mean(x)` reuses `mean(x)`).
fn refine(egraph: &Egraph, choice: &mut Choice, roots: &[Id]) {
    let Some(mut best) = total(egraph, choice, roots) else {
        return;
    };
    if best > REFINE_LIMIT {
        return;
    }
    let mut classes: Vec<Id> = choice.keys().copied().collect();
    classes.sort();
    for _ in 0..4 {
        let mut improved = false;
        for &class in &classes {
            let current = choice[&class].clone();
            for node in &egraph[class].nodes {
                if *node == current || !allowed(egraph, class, node) {
                    continue;
                }
                if node
                    .args
                    .iter()
                    .any(|a| !choice.contains_key(&egraph.find(*a)))
                {
                    continue;
                }
                let previous = choice.insert(class, node.clone());
                match total(egraph, choice, roots) {
                    Some(t) if t < best => {
                        best = t;
                        improved = true;
                    }
                    _ => {
                        if let Some(p) = previous {
                            choice.insert(class, p);
                        }
                    }
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// The tie-break between two e-nodes of equal cost: originals first, then a fixed order.
fn preferred(node: &ENode, than: &ENode, original: &Original) -> bool {
    let rank = |n: &ENode| !original.contains(n);
    (rank(node), node) < (rank(than), than)
}

fn classes(egraph: &Egraph) -> (Vec<Id>, FxHashMap<Id, u32>) {
    let mut ids: Vec<Id> = egraph.classes().map(|c| c.id).collect();
    ids.sort();
    let index = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i as u32))
        .collect();
    (ids, index)
}

fn union_sorted(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

fn greedy_dag(egraph: &Egraph, original: &Original) -> Choice {
    let (ids, index) = classes(egraph);
    let mut cost: Vec<Option<(Rc<Vec<u32>>, ENode)>> = vec![None; ids.len()];
    let mut changed = true;
    let mut passes = 0;
    while changed && passes < 100 {
        changed = false;
        passes += 1;
        for (ci, &id) in ids.iter().enumerate() {
            for node in egraph[id].nodes.iter().filter(|n| allowed(egraph, id, n)) {
                let mut set: Vec<u32> = Vec::new();
                let mut ready = true;
                for child in &node.args {
                    let c = index[&egraph.find(*child)];
                    match &cost[c as usize] {
                        Some((s, _)) => {
                            if s.binary_search(&(ci as u32)).is_ok() || c == ci as u32 {
                                ready = false;
                                break;
                            }
                            set = union_sorted(&set, s);
                        }
                        None => {
                            ready = false;
                            break;
                        }
                    }
                }
                if !ready {
                    continue;
                }
                if !node.op.is_leaf() {
                    set = union_sorted(&set, &[ci as u32]);
                }
                let better = match &cost[ci] {
                    None => true,
                    Some((old, old_node)) => {
                        set.len() < old.len()
                            || (set.len() == old.len() && preferred(node, old_node, original))
                    }
                };
                if better
                    && cost[ci]
                        .as_ref()
                        .is_none_or(|(old, n)| old[..] != set[..] || n != node)
                {
                    cost[ci] = Some((Rc::new(set), node.clone()));
                    changed = true;
                }
            }
        }
    }
    ids.iter()
        .zip(cost)
        .filter_map(|(id, c)| c.map(|(_, node)| (*id, node)))
        .collect()
}

fn amortized(egraph: &Egraph, original: &Original) -> Choice {
    let (ids, index) = classes(egraph);
    let mut users = vec![0u32; ids.len()];
    for &id in &ids {
        for node in &egraph[id].nodes {
            for child in &node.args {
                users[index[&egraph.find(*child)] as usize] += 1;
            }
        }
    }
    let mut cost: Vec<Option<(f64, ENode)>> = vec![None; ids.len()];
    let mut changed = true;
    let mut passes = 0;
    while changed && passes < 100 {
        changed = false;
        passes += 1;
        for (ci, &id) in ids.iter().enumerate() {
            for node in egraph[id].nodes.iter().filter(|n| allowed(egraph, id, n)) {
                let mut total = if node.op.is_leaf() { 0.0 } else { 1.0 };
                let mut ready = true;
                for child in &node.args {
                    let c = index[&egraph.find(*child)] as usize;
                    match &cost[c] {
                        Some((k, _)) if c != ci => total += k / f64::from(users[c].max(1)),
                        _ => {
                            ready = false;
                            break;
                        }
                    }
                }
                if !ready {
                    continue;
                }
                let better = match &cost[ci] {
                    None => true,
                    Some((old, old_node)) => {
                        total < old * (1.0 - 1e-12)
                            || (total <= *old
                                && node != old_node
                                && preferred(node, old_node, original))
                    }
                };
                if better {
                    cost[ci] = Some((total, node.clone()));
                    changed = true;
                }
            }
        }
    }
    ids.iter()
        .zip(cost)
        .filter_map(|(id, c)| c.map(|(_, node)| (*id, node)))
        .collect()
}

/// Builds the chosen expressions of `roots` into a new graph. `None` if a choice is missing or
/// the choices form a cycle (then the caller keeps its input).
pub fn build(
    egraph: &Egraph,
    choice: &Choice,
    roots: &[Id],
) -> Option<(Graph, Vec<NodeId>, FxHashMap<Id, NodeId>)> {
    let mut graph = Graph::new();
    let mut done: FxHashMap<Id, NodeId> = FxHashMap::default();
    let mut on_stack: FxHashMap<Id, ()> = FxHashMap::default();
    let mut out_roots = Vec::with_capacity(roots.len());
    for &root in roots {
        let root = egraph.find(root);
        // Iterative post-order: (class, children pushed?).
        let mut stack: Vec<(Id, bool)> = vec![(root, false)];
        while let Some((class, expanded)) = stack.pop() {
            if done.contains_key(&class) {
                continue;
            }
            let node = choice.get(&class)?;
            if expanded {
                let args: Vec<NodeId> = node.args.iter().map(|a| done[&egraph.find(*a)]).collect();
                let id = graph.add(node.op, &args);
                done.insert(class, id);
                on_stack.remove(&class);
            } else {
                if on_stack.insert(class, ()).is_some() {
                    return None;
                }
                stack.push((class, true));
                for a in node.args.iter().rev() {
                    let a = egraph.find(*a);
                    if !done.contains_key(&a) {
                        if on_stack.contains_key(&a) {
                            return None;
                        }
                        stack.push((a, false));
                    }
                }
            }
        }
        out_roots.push(done[&root]);
    }
    Some((graph, out_roots, done))
}
