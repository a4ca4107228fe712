//! Expressions of a requested shape: every operator and built-in of LANGUAGE.md §4, matrix
//! products, reductions over elements, free indices and rows, `if`, and user functions.
//!
//! `expr(shape, rows)` writes an expression of exactly `shape`; `rows` says whether it may
//! depend on the data row (it may not in the objective, outside a reduction over rows). It is
//! only asked for shapes that [`Generator::shapes`] lists, so that a leaf always exists.

use super::vocabulary::{
    Arith, EXPONENTS, EXTREMES, Expr, NUMBERS, Named, Reduce, Shape, Unary, number_text,
};
use super::{Generator, MAX_DEPTH, Result};

const COMPARISONS: [&str; 6] = ["<", "<=", ">", ">=", "==", "!="];

impl Generator<'_, '_> {
    /// The names an expression may use here.
    fn usable(&self, rows: bool) -> impl Iterator<Item = &Named> {
        self.values.iter().filter(move |v| rows || !v.per_row)
    }

    /// Every value that can be written without an operator, with its shape, grouped by the
    /// name it uses: names, their elements and rows by constant positions, and elements
    /// selected by the bound indices.
    fn leaves(&self, rows: bool) -> Vec<Vec<(Shape, Expr)>> {
        let mut groups = Vec::new();
        for v in self.usable(rows) {
            let mut out = Vec::new();
            let leaf = |text: String| Expr::new(text, v.per_row);
            let name = &v.name;
            out.push((v.shape, leaf(name.clone())));
            match v.shape {
                Shape::Scalar => {}
                Shape::Vector(k) => {
                    for c in 0..k {
                        out.push((Shape::Scalar, leaf(format!("{name}[{c}]"))));
                    }
                    for (i, _) in self.indices.iter().filter(|(_, e)| *e == k) {
                        out.push((Shape::Scalar, leaf(format!("{name}[{i}]"))));
                    }
                }
                Shape::Matrix(m, n) => {
                    for a in 0..m {
                        out.push((Shape::Vector(n), leaf(format!("{name}[{a}]"))));
                        for b in 0..n {
                            out.push((Shape::Scalar, leaf(format!("{name}[{a}][{b}]"))));
                        }
                    }
                    for (i, e) in &self.indices {
                        if *e == m {
                            out.push((Shape::Vector(n), leaf(format!("{name}[{i}]"))));
                            for b in 0..n {
                                out.push((Shape::Scalar, leaf(format!("{name}[{i}][{b}]"))));
                            }
                            for (j, _) in self.indices.iter().filter(|(_, f)| *f == n) {
                                out.push((Shape::Scalar, leaf(format!("{name}[{i}][{j}]"))));
                            }
                        }
                        if *e == n {
                            for a in 0..m {
                                out.push((Shape::Scalar, leaf(format!("{name}[{a}][{i}]"))));
                            }
                        }
                    }
                }
            }
            groups.push(out);
        }
        groups
    }

    /// The shapes of the leaves here.
    fn leaf_shapes(&self, rows: bool) -> Vec<Shape> {
        let mut shapes = vec![Shape::Scalar];
        for (shape, _) in self.leaves(rows).into_iter().flatten() {
            if !shapes.contains(&shape) {
                shapes.push(shape);
            }
        }
        shapes
    }

    /// The shapes an expression here may be asked for: those of leaves and of one matrix
    /// product of leaves.
    pub(super) fn shapes(&self, rows: bool) -> Vec<Shape> {
        let leaf_shapes = self.leaf_shapes(rows);
        let mut shapes = leaf_shapes.clone();
        for a in &leaf_shapes {
            for b in &leaf_shapes {
                let product = match (*a, *b) {
                    (Shape::Matrix(m, n), Shape::Vector(k)) if n == k => Shape::Vector(m),
                    (Shape::Matrix(m, n), Shape::Matrix(k, p)) if n == k => Shape::Matrix(m, p),
                    _ => continue,
                };
                if !shapes.contains(&product) {
                    shapes.push(product);
                }
            }
        }
        shapes
    }

    /// The extents a free index may range over here.
    pub(super) fn extents(&self, rows: bool) -> Vec<usize> {
        let mut extents = Vec::new();
        for v in self.usable(rows) {
            let dims: &[usize] = match &v.shape {
                Shape::Scalar => &[],
                Shape::Vector(k) => &[*k],
                Shape::Matrix(m, n) => &[*m, *n],
            };
            for d in dims {
                if !extents.contains(d) {
                    extents.push(*d);
                }
            }
        }
        extents
    }

    /// An expression of `shape`; compound until the statement's budget or the depth runs out.
    pub(super) fn expr(&mut self, shape: Shape, rows: bool) -> Result<Expr> {
        if self.budget == 0 || self.depth >= MAX_DEPTH {
            return self.leaf(shape, rows);
        }
        self.budget -= 1;
        self.depth += 1;
        let expr = self.compound(shape, rows);
        self.depth -= 1;
        expr
    }

    fn compound(&mut self, shape: Shape, rows: bool) -> Result<Expr> {
        let scalar = shape == Shape::Scalar;
        let expr = match self.u.int_in_range(0..=10)? {
            1 => {
                let f = self.u.arbitrary::<Unary>()?;
                Expr::call(f.name(), &[self.expr(shape, rows)?])
            }
            2 => {
                let a = self.expr(shape, rows)?;
                Expr::new(format!("(-{})", a.text), a.per_row)
            }
            3 => self.arithmetic(shape, rows)?,
            4 => self.builtin2(shape, rows)?,
            5 => {
                let [a, b, t, e] = <[Expr; 4]>::try_from(self.operands(shape, rows, 4)?)
                    .map_err(|_| arbitrary::Error::IncorrectFormat)?;
                let cmp = self.u.choose(&COMPARISONS)?;
                let per_row = a.per_row || b.per_row || t.per_row || e.per_row;
                let text = format!(
                    "(if {} {cmp} {} then {} else {})",
                    a.text, b.text, t.text, e.text
                );
                Expr::new(text, per_row)
            }
            6 if !self.functions.is_empty() => {
                let (name, arity) = self.u.choose(&self.functions)?.clone();
                let args = self.operands(shape, rows, arity)?;
                Expr::call(&name, &args)
            }
            7 => match self.product(shape, rows, false)? {
                Some(product) => product,
                None => self.leaf(shape, rows)?,
            },
            8 if !scalar => match shape {
                Shape::Vector(_) => Expr::call("softmax", &[self.expr(shape, rows)?]),
                _ => self.leaf(shape, rows)?,
            },
            8 => self.reduce_elements(rows)?,
            9 if scalar && !self.in_function && self.values.iter().any(|v| v.per_row) => {
                // A reduction over rows: its argument may read the data.
                let argument = self.expr(Shape::Scalar, true)?;
                let name = if self.u.arbitrary()? { "sum" } else { "mean" };
                Expr::new(format!("{name}({})", argument.text), false)
            }
            10 if scalar && !self.extents(rows).is_empty() => {
                let extents = self.extents(rows);
                let extent = *self.u.choose(&extents)?;
                let (names, body) = self.indexed_body(&[extent], rows)?;
                let name = if self.u.arbitrary()? { "sum" } else { "mean" };
                let text = format!("({name}({}) ({}))", names[0], body.text);
                Expr::new(text, body.per_row)
            }
            _ => self.leaf(shape, rows)?,
        };
        Ok(expr)
    }

    /// `n` operands for an element-wise operation with a result of `shape`: each of `shape` or
    /// a broadcast scalar, at least one of `shape`.
    fn operands(&mut self, shape: Shape, rows: bool, n: usize) -> Result<Vec<Expr>> {
        let anchor = self.u.int_in_range(0..=n.saturating_sub(1))?;
        let mut operands = Vec::with_capacity(n);
        for k in 0..n {
            let full = shape == Shape::Scalar || k == anchor || self.u.arbitrary()?;
            let operand_shape = if full { shape } else { Shape::Scalar };
            operands.push(self.expr(operand_shape, rows)?);
        }
        Ok(operands)
    }

    fn arithmetic(&mut self, shape: Shape, rows: bool) -> Result<Expr> {
        let (symbol, _) = self.u.arbitrary::<Arith>()?.pair();
        if symbol == "^" && self.u.arbitrary()? {
            let base = self.expr(shape, rows)?;
            let exponent = number_text(*self.u.choose(&EXPONENTS)?);
            return Ok(Expr::new(
                format!("({} ^ {exponent})", base.text),
                base.per_row,
            ));
        }
        let operands = self.operands(shape, rows, 2)?;
        let per_row = operands.iter().any(|o| o.per_row);
        let text = format!("({} {symbol} {})", operands[0].text, operands[1].text);
        Ok(Expr::new(text, per_row))
    }

    /// The built-ins of two arguments, and the one-argument forms of `leaky_relu` and `elu`.
    fn builtin2(&mut self, shape: Shape, rows: bool) -> Result<Expr> {
        let name = *self.u.choose(&["max", "min", "pow", "leaky_relu", "elu"])?;
        Ok(match name {
            "max" | "min" | "pow" => Expr::call(name, &self.operands(shape, rows, 2)?),
            _ => {
                let t = self.expr(shape, rows)?;
                if self.u.arbitrary()? {
                    let slope = self.expr(Shape::Scalar, rows)?;
                    Expr::call(name, &[t, slope])
                } else {
                    Expr::call(name, &[t])
                }
            }
        })
    }

    /// `A @ v` or `A @ B` with a result of `shape`, if the leaves allow one; with `minimal`,
    /// of leaves (the last resort of [`Generator::leaf`]).
    fn product(&mut self, shape: Shape, rows: bool, minimal: bool) -> Result<Option<Expr>> {
        let leaf_shapes = self.leaf_shapes(rows);
        let pairs: Vec<(Shape, Shape)> = leaf_shapes
            .iter()
            .flat_map(|a| leaf_shapes.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| match (shape, *a, *b) {
                (Shape::Vector(m), Shape::Matrix(am, an), Shape::Vector(k)) => am == m && an == k,
                (Shape::Matrix(m, p), Shape::Matrix(am, an), Shape::Matrix(bm, bp)) => {
                    am == m && an == bm && bp == p
                }
                _ => false,
            })
            .collect();
        if pairs.is_empty() {
            return Ok(None);
        }
        let (a_shape, b_shape) = *self.u.choose(&pairs)?;
        let (a, b) = if minimal {
            (self.leaf(a_shape, rows)?, self.leaf(b_shape, rows)?)
        } else {
            (self.expr(a_shape, rows)?, self.expr(b_shape, rows)?)
        };
        let per_row = a.per_row || b.per_row;
        Ok(Some(Expr::new(
            format!("({} @ {})", a.text, b.text),
            per_row,
        )))
    }

    /// A scalar from the elements of a vector or matrix: `sum`, `mean`, `max`, `min`,
    /// `logsumexp`, `norm`, or `dot` of two vectors.
    fn reduce_elements(&mut self, rows: bool) -> Result<Expr> {
        let shapes: Vec<Shape> = self
            .shapes(rows)
            .into_iter()
            .filter(|s| *s != Shape::Scalar)
            .collect();
        if shapes.is_empty() {
            return self.leaf(Shape::Scalar, rows);
        }
        let shape = *self.u.choose(&shapes)?;
        if matches!(shape, Shape::Vector(_)) && self.u.ratio(1, 4)? {
            let a = self.expr(shape, rows)?;
            let b = self.expr(shape, rows)?;
            return Ok(Expr::call("dot", &[a, b]));
        }
        let name = match self.u.arbitrary::<Reduce>()? {
            Reduce::Sum => "sum",
            Reduce::Mean => "mean",
            Reduce::Max => "max",
            Reduce::Min => "min",
            Reduce::LogSumExp => "logsumexp",
            Reduce::Norm => "norm",
        };
        Ok(Expr::call(name, &[self.expr(shape, rows)?]))
    }

    /// The scalar body of `sum(i)`, `mean(i)` or `let v[i][j]`, with fresh indices of
    /// `extents` bound: it uses every index at least once (an index's extent is inferred from
    /// its uses), and may use them anywhere else too.
    pub(super) fn indexed_body(
        &mut self,
        extents: &[usize],
        rows: bool,
    ) -> Result<(Vec<String>, Expr)> {
        let names: Vec<String> = extents.iter().map(|_| self.fresh("i")).collect();
        let outer = self.indices.len();
        self.indices
            .extend(names.iter().cloned().zip(extents.iter().copied()));
        let body = self.indexed_body_inner(&names, rows);
        self.indices.truncate(outer);
        Ok((names, body?))
    }

    fn indexed_body_inner(&mut self, names: &[String], rows: bool) -> Result<Expr> {
        let mut uses = Vec::with_capacity(names.len());
        for name in names {
            let pattern = format!("[{name}]");
            let candidates: Vec<Expr> = self
                .leaves(rows)
                .into_iter()
                .flatten()
                .filter(|(shape, e)| *shape == Shape::Scalar && e.text.contains(&pattern))
                .map(|(_, e)| e)
                .collect();
            // The extents come from `extents(rows)`, so every index has a use.
            let pick = self.u.choose_index(candidates.len())?;
            uses.extend(candidates.into_iter().nth(pick));
        }
        let per_row = uses.iter().any(|u| u.per_row);
        let texts: Vec<&str> = uses.iter().map(|u| u.text.as_str()).collect();
        let anchor = Expr::new(format!("({})", texts.join(" * ")), per_row);
        Ok(match self.u.int_in_range(0..=2)? {
            0 => anchor,
            1 => {
                let f = self.u.arbitrary::<Unary>()?;
                Expr::call(f.name(), &[anchor])
            }
            _ => {
                let (symbol, _) = self.u.arbitrary::<Arith>()?.pair();
                let other = self.expr(Shape::Scalar, rows)?;
                let per_row = anchor.per_row || other.per_row;
                let (a, b) = if self.u.arbitrary()? {
                    (anchor, other)
                } else {
                    (other, anchor)
                };
                Expr::new(format!("({} {symbol} {})", a.text, b.text), per_row)
            }
        })
    }

    /// A leaf of `shape`: a number or a name, an element or row of one (the name first, so
    /// that a matrix's many elements do not crowd out the other names); for a shape only a
    /// product reaches, the product of two leaves.
    fn leaf(&mut self, shape: Shape, rows: bool) -> Result<Expr> {
        let mut groups: Vec<Vec<Expr>> = self
            .leaves(rows)
            .into_iter()
            .map(|group| {
                group
                    .into_iter()
                    .filter(|(s, _)| *s == shape)
                    .map(|(_, e)| e)
                    .collect::<Vec<Expr>>()
            })
            .filter(|group| !group.is_empty())
            .collect();
        if shape == Shape::Scalar {
            let choice = self.u.int_in_range(0..=7)?;
            if choice == 0 || groups.is_empty() {
                return self.number();
            }
            if choice == 1 {
                return Ok(Expr::new("pi".to_string(), false));
            }
        }
        if !groups.is_empty() {
            let group = groups.swap_remove(self.u.choose_index(groups.len())?);
            let pick = self.u.choose_index(group.len())?;
            return group
                .into_iter()
                .nth(pick)
                .ok_or(arbitrary::Error::IncorrectFormat);
        }
        // `shapes` offered this shape, so a product of leaves has it.
        self.product(shape, rows, true)?
            .ok_or(arbitrary::Error::IncorrectFormat)
    }

    /// A literal (negative ones in parentheses): mostly modest, sometimes huge or tiny, rarely
    /// `inf`.
    pub(super) fn number(&mut self) -> Result<Expr> {
        let value = self.value(&NUMBERS, &EXTREMES)?;
        let negative: bool = self.u.arbitrary()?;
        let text = match self.u.int_in_range(0..=40)? {
            39 => "inf".to_string(),
            40 => "(-inf)".to_string(),
            _ if negative => number_text(-value),
            _ => number_text(value),
        };
        Ok(Expr::new(text, false))
    }
}
