//! The model generator: arbitrary bytes become a valid `.loss` model and a small CSV table.
//!
//! Validity is by construction, not by filtering: the generator tracks the shape and the
//! row-dependence of every name it declares and only writes expressions that type-check —
//! operands of equal shape or a broadcast scalar, per-row values in the objective only inside
//! a reduction over rows, free indices only where they index something of their extent,
//! constants that evaluate to finite numbers. Every choice's first alternative is the
//! smallest, so that when the bytes run out (`arbitrary` then answers 0) the model stays small
//! and valid. Every compound expression is parenthesized: the parser's precedence is the
//! `front_end` target's business, and here it must not change what the generator meant.

use crate::output::Format;
use arbitrary::{Arbitrary, Result, Unstructured};
use std::fmt;
use vocabulary::{Arith, EXTREME_VALUES, NUMBERS, Named, Shape, Unary, VALUES, number_text};

mod expr;
mod vocabulary;

/// The largest extent of a vector or a matrix side: shapes stay tiny so that unrolled
/// products and Hessians stay cheap.
const MAX_EXTENT: usize = 3;
/// The most parameter elements of one model.
const MAX_PARAM_ELEMENTS: usize = 10;
/// The most data rows (at least one is always written: an empty table is a data error).
const MAX_ROWS: usize = 6;
/// The most compound expression nodes of one statement.
const MAX_STATEMENT_NODES: usize = 12;
/// The deepest nesting of compound expressions.
const MAX_DEPTH: usize = 6;

/// A generated model: a valid `.loss` source, its data, and how to evaluate it.
#[derive(Clone)]
pub struct Model {
    /// The `.loss` source.
    pub source: String,
    /// The CSV table (a header row and 1–6 rows), read when the model has inputs.
    pub csv: String,
    /// The `--seed` of random initial values; the first point evaluated is the initial one.
    pub seed: u64,
    /// The second point evaluated: these values, repeated over the flat parameters.
    pub point: Vec<f64>,
    /// A mini-batch: row positions (taken modulo the row count), repeats allowed.
    pub batch: Vec<usize>,
    /// Whether the Hessian is derived and compiled too (for models with few parameters).
    pub hessian: bool,
    /// How the derivatives are printed (printing must not panic either).
    pub format: Format,
}

impl fmt::Debug for Model {
    /// The source and the table verbatim, so that a crash report can be pasted into files.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--- fuzz.loss ---\n{}--- fuzz.csv ---\n{}--- seed {}, point {:?}, batch {:?}, \
             hessian {}, format {:?}",
            self.source, self.csv, self.seed, self.point, self.batch, self.hessian, self.format
        )
    }
}

impl<'a> Arbitrary<'a> for Model {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Model> {
        Generator::new(u).model()
    }
}

/// The generator's state while writing one model.
struct Generator<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    statements: Vec<String>,
    /// Every name expressions may use (inputs, params, consts, lets, function parameters).
    values: Vec<Named>,
    /// `const` names with their values, for constant expressions.
    consts: Vec<(String, f64)>,
    /// User functions: name and arity.
    functions: Vec<(String, usize)>,
    /// Free indices bound around the expression being written, with their extents.
    indices: Vec<(String, usize)>,
    /// The `let` names predicted so far.
    predicted: Vec<String>,
    /// Whether a function body is being written (no reductions over rows there).
    in_function: bool,
    /// Compound nodes left for the current statement.
    budget: usize,
    depth: usize,
    /// The number in the next fresh name.
    fresh: usize,
}

impl<'a, 'b> Generator<'a, 'b> {
    fn new(u: &'a mut Unstructured<'b>) -> Generator<'a, 'b> {
        Generator {
            u,
            statements: Vec::new(),
            values: Vec::new(),
            consts: Vec::new(),
            functions: Vec::new(),
            indices: Vec::new(),
            predicted: Vec::new(),
            in_function: false,
            budget: 0,
            depth: 0,
            fresh: 0,
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    fn model(mut self) -> Result<Model> {
        if self.u.arbitrary()? {
            self.statements.push("data \"fuzz.csv\"".to_string());
        }
        for _ in 0..self.u.int_in_range(0..=2)? {
            self.constant_statement()?;
        }
        let columns = self.inputs()?;
        for _ in 0..self.u.int_in_range(1..=3)? {
            self.param()?;
        }
        for _ in 0..self.u.int_in_range(0..=2)? {
            self.function()?;
        }
        for _ in 0..self.u.int_in_range(0..=4)? {
            self.let_statement()?;
        }
        self.budget = self.u.int_in_range(0..=MAX_STATEMENT_NODES)?;
        let objective = self.objective()?;
        self.statements.push(format!("minimize {objective}"));
        for _ in 0..self.u.int_in_range(0..=2)? {
            self.predict()?;
        }
        let csv = self.table(&columns)?;
        let mut source = String::new();
        for statement in &self.statements {
            source.push_str(statement);
            // Both statement separators, and comments, which the lexer must skip.
            match self.u.int_in_range(0..=7)? {
                1 => source.push_str("; "),
                2 => source.push_str("  # a comment\n"),
                _ => source.push('\n'),
            }
        }
        if !source.ends_with('\n') {
            source.push('\n');
        }
        let point = (0..self.u.int_in_range(1..=4)?)
            .map(|_| self.value(&VALUES, &EXTREME_VALUES))
            .collect::<Result<Vec<f64>>>()?;
        let batch = (0..self.u.int_in_range(0..=4)?)
            .map(|_| self.u.int_in_range(0..=MAX_ROWS))
            .collect::<Result<Vec<usize>>>()?;
        Ok(Model {
            source,
            csv,
            seed: u64::from(self.u.arbitrary::<u8>()?),
            point,
            batch,
            hessian: self.u.arbitrary()?,
            format: *self
                .u
                .choose(&[Format::Text, Format::Latex, Format::Dot, Format::Json])?,
        })
    }

    // Declarations.

    fn constant_statement(&mut self) -> Result<()> {
        let name = self.fresh("c");
        let (text, value) = self.constant(0)?;
        self.statements.push(format!("const {name} = {text}"));
        self.consts.push((name.clone(), value));
        self.values.push(Named {
            name,
            shape: Shape::Scalar,
            per_row: false,
        });
        Ok(())
    }

    /// A constant expression and its value, computed with `Op::apply` as lowering computes
    /// it; one that is not finite (a model error) is replaced by a literal.
    fn constant(&mut self, depth: usize) -> Result<(String, f64)> {
        let choice = if depth >= 2 {
            0
        } else {
            self.u.int_in_range(0..=4)?
        };
        let (text, value) = match choice {
            1 if !self.consts.is_empty() => self.u.choose(&self.consts)?.clone(),
            2 => ("pi".to_string(), std::f64::consts::PI),
            3 => {
                let (op, op_value) = self.u.arbitrary::<Arith>()?.pair();
                let (a, a_value) = self.constant(depth + 1)?;
                let (b, b_value) = self.constant(depth + 1)?;
                (
                    format!("({a} {op} {b})"),
                    op_value.apply(&[a_value, b_value]),
                )
            }
            4 => {
                let f = self.u.arbitrary::<Unary>()?;
                let (a, a_value) = self.constant(depth + 1)?;
                (format!("{}({a})", f.name()), f.op().apply(&[a_value]))
            }
            _ => {
                let value = self.signed(&NUMBERS)?;
                (number_text(value), value)
            }
        };
        if value.is_finite() {
            return Ok((text, value));
        }
        let value = self.signed(&NUMBERS)?;
        Ok((number_text(value), value))
    }

    /// One of `common`, or one in twelve times one of `extreme`.
    fn value(&mut self, common: &[f64], extreme: &[f64]) -> Result<f64> {
        if self.u.int_in_range(0..=11)? == 11 {
            Ok(*self.u.choose(extreme)?)
        } else {
            Ok(*self.u.choose(common)?)
        }
    }

    /// A value from `values`, negated half of the time.
    fn signed(&mut self, values: &[f64]) -> Result<f64> {
        let value = *self.u.choose(values)?;
        Ok(if self.u.arbitrary()? { -value } else { value })
    }

    /// Up to three inputs, each bound to columns by its own name, by headers (names or quoted
    /// strings) or by position, with unused columns around them. Returns the table's columns:
    /// each header, and whether a model reads it.
    fn inputs(&mut self) -> Result<Vec<(String, bool)>> {
        let mut columns: Vec<(String, bool)> = Vec::new();
        if self.u.arbitrary()? {
            columns.push(("note".to_string(), false));
        }
        for _ in 0..self.u.int_in_range(0..=3)? {
            let name = self.fresh("x");
            let shape = match self.u.int_in_range(0..=2)? {
                0 | 1 => Shape::Scalar,
                _ => Shape::Vector(self.u.int_in_range(1..=MAX_EXTENT)?),
            };
            let len = shape.len();
            let start = columns.len();
            let source = match self.u.int_in_range(0..=2)? {
                0 if shape == Shape::Scalar => {
                    columns.push((name.clone(), true));
                    String::new()
                }
                1 => {
                    columns.extend((0..len).map(|k| (format!("h{start}_{k}"), true)));
                    format!(" = columns {start}..{}", start + len)
                }
                _ => {
                    let mut headers = Vec::with_capacity(len);
                    for k in 0..len {
                        let header = format!("h{start}_{k}");
                        headers.push(if self.u.arbitrary()? {
                            format!("\"col {start} {k}\"")
                        } else {
                            header.clone()
                        });
                        let in_file = headers[k].trim_matches('"').to_string();
                        columns.push((in_file, true));
                    }
                    format!(" = {}", headers.join(", "))
                }
            };
            self.statements
                .push(format!("input {name}{}{source}", shape.dims()));
            self.values.push(Named {
                name,
                shape,
                per_row: true,
            });
        }
        if self.u.arbitrary()? {
            columns.push(("comment".to_string(), false));
        }
        Ok(columns)
    }

    /// The CSV table: used columns hold numbers, unused ones sometimes text.
    fn table(&mut self, columns: &[(String, bool)]) -> Result<String> {
        let headers: Vec<&str> = columns.iter().map(|(h, _)| h.as_str()).collect();
        let mut csv = headers.join(",");
        csv.push('\n');
        if columns.is_empty() {
            return Ok(csv);
        }
        for _ in 0..self.u.int_in_range(1..=MAX_ROWS)? {
            let mut cells = Vec::with_capacity(columns.len());
            for (_, used) in columns {
                let value = self.value(&VALUES, &EXTREME_VALUES)?;
                cells.push(if !used && self.u.arbitrary()? {
                    "n/a".to_string()
                } else {
                    format!("{value:?}")
                });
            }
            csv.push_str(&cells.join(","));
            csv.push('\n');
        }
        Ok(csv)
    }

    fn param(&mut self) -> Result<()> {
        let used: usize = self
            .values
            .iter()
            .filter(|v| v.name.starts_with('w'))
            .map(|v| v.shape.len())
            .sum();
        let extent = |g: &mut Self| g.u.int_in_range(1..=MAX_EXTENT);
        let mut shape = match self.u.int_in_range(0..=3)? {
            0 | 1 => Shape::Scalar,
            2 => Shape::Vector(extent(self)?),
            _ => Shape::Matrix(extent(self)?, extent(self)?),
        };
        if used + shape.len() > MAX_PARAM_ELEMENTS {
            shape = Shape::Scalar;
        }
        let init = match self.u.int_in_range(0..=3)? {
            0 => String::new(),
            1 => format!(" = {}", self.constant(0)?.0),
            2 => {
                let mean = self.signed(&NUMBERS[..8])?;
                let sd = *self.u.choose(&NUMBERS[..8])?;
                format!(" ~ normal({}, {})", number_text(mean), number_text(sd))
            }
            _ => {
                let a = self.signed(&NUMBERS[..8])?;
                let b = self.signed(&NUMBERS[..8])?;
                let (low, high) = (a.min(b), a.max(b));
                format!(" ~ uniform({}, {})", number_text(low), number_text(high))
            }
        };
        let name = self.fresh("w");
        self.statements
            .push(format!("param {name}{}{init}", shape.dims()));
        self.values.push(Named {
            name,
            shape,
            per_row: false,
        });
        Ok(())
    }

    /// `fn f(a, b) = body`: a scalar body over its parameters and the row-free names.
    fn function(&mut self) -> Result<()> {
        let name = self.fresh("f");
        let arity = self.u.int_in_range(1..=3)?;
        let params: Vec<String> = (0..arity).map(|_| self.fresh("a")).collect();
        let outer = self.values.len();
        self.values.extend(params.iter().map(|p| Named {
            name: p.clone(),
            shape: Shape::Scalar,
            per_row: false,
        }));
        self.in_function = true;
        self.budget = self.u.int_in_range(0..=MAX_STATEMENT_NODES / 2)?;
        let body = self.expr(Shape::Scalar, false);
        self.in_function = false;
        self.values.truncate(outer);
        self.statements
            .push(format!("fn {name}({}) = {}", params.join(", "), body?.text));
        self.functions.push((name, arity));
        Ok(())
    }

    fn let_statement(&mut self) -> Result<()> {
        self.budget = self.u.int_in_range(0..=MAX_STATEMENT_NODES)?;
        let extents = self.extents(true);
        let name = self.fresh("z");
        let (head, expr, shape) = match self.u.int_in_range(0..=3)? {
            2 if !extents.is_empty() => {
                let k = *self.u.choose(&extents)?;
                let body = self.indexed_body(&[k], true)?;
                (
                    format!("{name}[{}]", body.0.join("][")),
                    body.1,
                    Shape::Vector(k),
                )
            }
            3 if !extents.is_empty() => {
                let (m, n) = (*self.u.choose(&extents)?, *self.u.choose(&extents)?);
                let body = self.indexed_body(&[m, n], true)?;
                let head = format!("{name}[{}]", body.0.join("]["));
                (head, body.1, Shape::Matrix(m, n))
            }
            _ => {
                let shapes = self.shapes(true);
                let shape = *self.u.choose(&shapes)?;
                (name.clone(), self.expr(shape, true)?, shape)
            }
        };
        self.statements.push(format!("let {head} = {}", expr.text));
        self.values.push(Named {
            name,
            shape,
            per_row: expr.per_row,
        });
        Ok(())
    }

    /// The objective, row-free: with data, usually a reduction over rows of a per-row term (a
    /// loss), sometimes plus a row-free term (a penalty).
    fn objective(&mut self) -> Result<String> {
        let has_rows = self.values.iter().any(|v| v.per_row);
        let choice = self.u.int_in_range(0..=3)?;
        if choice == 0 || !has_rows {
            return Ok(self.expr(Shape::Scalar, false)?.text);
        }
        let term = self.expr(Shape::Scalar, true)?;
        let reduction = if self.u.arbitrary()? { "sum" } else { "mean" };
        let loss = format!("{reduction}({})", term.text);
        if choice == 1 {
            let penalty = self.expr(Shape::Scalar, false)?;
            return Ok(format!("({loss} + {})", penalty.text));
        }
        Ok(loss)
    }

    /// `predict z` of a `let` not predicted yet (a column is written once), or
    /// `predict p = expression`.
    fn predict(&mut self) -> Result<()> {
        let lets: Vec<&Named> = self
            .values
            .iter()
            .filter(|v| v.name.starts_with('z') && !self.predicted.contains(&v.name))
            .collect();
        if !lets.is_empty() && self.u.arbitrary()? {
            let name = self.u.choose(&lets)?.name.clone();
            self.statements.push(format!("predict {name}"));
            self.predicted.push(name);
            return Ok(());
        }
        self.budget = self.u.int_in_range(0..=MAX_STATEMENT_NODES)?;
        let shapes = self.shapes(true);
        let shape = *self.u.choose(&shapes)?;
        let expr = self.expr(shape, true)?;
        let name = self.fresh("p");
        self.statements
            .push(format!("predict {name} = {}", expr.text));
        Ok(())
    }
}
