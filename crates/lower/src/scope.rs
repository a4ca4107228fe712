//! Name resolution: the declared names in order, the local bindings of function parameters and
//! free indices, and "did you mean" suggestions.

use crate::value::{Axis, Value};
use gradc_syntax::Span;
use gradc_syntax::ast::{Expr, Ident};
use indexmap::IndexMap;

/// What a declared name stands for.
#[derive(Clone, Debug)]
pub(crate) enum Symbol<'a> {
    /// `pi` and `inf`.
    Predefined(f64),
    Const(f64),
    Param(Value),
    Input(Value),
    Let(Value),
    Fn(FnDef<'a>),
    /// A declaration that had an error: uses of the name report nothing more.
    Broken,
}

impl Symbol<'_> {
    /// How the kind of name is called in messages, with its article.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Symbol::Predefined(_) => "a predefined constant",
            Symbol::Const(_) => "a const",
            Symbol::Param(_) => "a param",
            Symbol::Input(_) => "an input",
            Symbol::Let(_) => "a `let` value",
            Symbol::Fn(_) => "a function",
            Symbol::Broken => "a name",
        }
    }
}

/// A user function, inlined at each call.
#[derive(Clone, Debug)]
pub(crate) struct FnDef<'a> {
    pub params: &'a [Ident],
    pub body: &'a Expr,
    /// Its body only sees names declared before it, which also rules out recursion.
    pub visible: usize,
    /// The body had an error at its declaration: calls report nothing more.
    pub broken: bool,
}

/// A declared name.
#[derive(Clone, Debug)]
pub(crate) struct Declared<'a> {
    pub symbol: Symbol<'a>,
    /// Where the name was declared; `None` for predefined names.
    pub span: Option<Span>,
}

/// A local binding, innermost last.
#[derive(Clone, Debug)]
pub(crate) enum Local {
    /// A function parameter, bound to its argument (a scalar per position of its free indices).
    Value(Value),
    /// A free index of `let v[i]` or `sum(i)`, ranging over all its positions at once.
    Axis(Axis),
    /// A free index bound to one position: the body is lowered once per position where it
    /// computes with the index (`v[i + 1]`) instead of only indexing with it.
    Position(usize),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Scope<'a> {
    pub globals: IndexMap<String, Declared<'a>>,
    pub locals: Vec<(String, Local)>,
    /// While inlining a function: how many globals its body may see.
    pub visible: Option<usize>,
}

/// What a name resolves to.
pub(crate) enum Resolved<'s, 'a> {
    Local(&'s Local),
    Global(&'s Declared<'a>),
    Missing,
}

impl<'a> Scope<'a> {
    pub fn new() -> Scope<'a> {
        let mut scope = Scope::default();
        // LANGUAGE.md §2: `pi` and `inf` are predefined and may not be redeclared.
        for (name, value) in [("pi", std::f64::consts::PI), ("inf", f64::INFINITY)] {
            scope.globals.insert(
                name.to_string(),
                Declared {
                    symbol: Symbol::Predefined(value),
                    span: None,
                },
            );
        }
        scope
    }

    pub fn resolve(&self, name: &str) -> Resolved<'_, 'a> {
        if let Some((_, local)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Resolved::Local(local);
        }
        match self.global(name) {
            Some(declared) => Resolved::Global(declared),
            None => Resolved::Missing,
        }
    }

    /// A global visible from here (all of them, except inside a function body).
    pub fn global(&self, name: &str) -> Option<&Declared<'a>> {
        let (index, _, declared) = self.globals.get_full(name)?;
        match self.visible {
            Some(limit) if index >= limit => None,
            _ => Some(declared),
        }
    }

    /// The visible names closest to `name`, for a "did you mean" hint.
    pub fn suggest(&self, name: &str, extra: &[&str]) -> Option<String> {
        let limit = self.visible.unwrap_or(usize::MAX);
        let candidates = self
            .locals
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(self.globals.keys().take(limit).map(String::as_str))
            .chain(extra.iter().copied());
        closest(name, candidates)
    }
}

/// The candidate with the smallest edit distance, if it is close enough to be a likely typo.
pub(crate) fn closest<'c>(name: &str, candidates: impl Iterator<Item = &'c str>) -> Option<String> {
    // One- and two-letter names are too close to everything for a suggestion to mean much.
    let length = name.chars().count();
    if length <= 2 {
        return None;
    }
    let budget = (length / 3).max(1);
    candidates
        .filter(|candidate| *candidate != name)
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, candidate)| (*distance, candidate.to_string()))
        .map(|(_, candidate)| candidate.to_string())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{closest, edit_distance};

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("sigmoid", "sigmoid"), 0);
        assert_eq!(edit_distance("sigmod", "sigmoid"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            closest("sigmod", ["sigmoid", "softmax"].into_iter()),
            Some("sigmoid".into())
        );
        assert_eq!(closest("zzz", ["sigmoid"].into_iter()), None);
    }
}
