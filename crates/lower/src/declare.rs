//! Declarations with a shape: `input` (columns by header or position) and `param` (initial
//! values and distributions). Each is one leaf node of the tensor graph; their elements have
//! flat indices in declaration order.

use crate::lowerer::{Lowerer, plural, were};
use crate::scope::Symbol;
use crate::value::Value;
use gradc_graph::{ColumnSource, Init, InputInfo, ParamInfo};
use gradc_syntax::ast::{Expr, Ident, InputSource, ParamInit};
use gradc_syntax::{Diagnostic, Span, codes};

impl<'a> Lowerer<'a> {
    pub fn input(&mut self, name: &'a Ident, shape: &'a [Expr], source: &'a InputSource) {
        let Some(dims) = self.extents(shape, 1, "an input") else {
            self.declare(name, Symbol::Broken);
            return;
        };
        let len: usize = dims.iter().product();
        let shape_span = shape.first().map_or(name.span, |first| first.span);
        let columns = match source {
            InputSource::OwnName if dims.is_empty() => {
                Some(ColumnSource::Headers(vec![name.name.clone()]))
            }
            InputSource::OwnName => {
                self.report(
                    Diagnostic::error(
                        codes::INPUT_NEEDS_COLUMNS,
                        format!("the vector input `{}` needs its columns", name.name),
                        name.span,
                    )
                    .with_label(format!("{} columns are needed", len))
                    .with_hint(format!(
                        "list the headers (`input {}[{len}] = a, b, ...`) or positions (`= columns 0..{len}`)",
                        name.name
                    )),
                );
                None
            }
            InputSource::Columns(list) => {
                if list.len() == len {
                    Some(ColumnSource::Headers(
                        list.iter().map(|c| c.header.clone()).collect(),
                    ))
                } else {
                    let span = match (list.first(), list.last()) {
                        (Some(first), Some(last)) => first.span.to(last.span),
                        _ => name.span,
                    };
                    self.report(
                        Diagnostic::error(
                            codes::INPUT_COLUMN_COUNT,
                            format!(
                                "input `{}` has {len} element{} but {} column{} listed",
                                name.name,
                                plural(len),
                                list.len(),
                                if list.len() == 1 { " is" } else { "s are" }
                            ),
                            span,
                        )
                        .with_label(format!("{} column{}", list.len(), plural(list.len())))
                        .with_secondary(shape_span, format!("{len} element{}", plural(len)))
                        .with_hint("name one column per element"),
                    );
                    None
                }
            }
            InputSource::Positions { start, end, span } => {
                self.column_range(name, len, start, end, *span, shape_span)
            }
        };
        let Some(columns) = columns else {
            self.declare(name, Symbol::Broken);
            return;
        };
        let offset = self.program.input_count();
        self.current_span = name.span;
        let node = self.leaf(|graph| graph.input(offset as u32, dims.clone()));
        self.program.inputs.push(InputInfo {
            name: name.name.clone(),
            shape: dims.clone(),
            offset,
            columns,
        });
        self.declare(name, Symbol::Input(Value::plain(node, dims)));
    }

    fn column_range(
        &mut self,
        name: &Ident,
        len: usize,
        start: &'a Expr,
        end: &'a Expr,
        span: Span,
        shape_span: Span,
    ) -> Option<ColumnSource> {
        let first = self.constant_integer(start, "a column position")?;
        let last = self.constant_integer(end, "a column position")?;
        if last <= first {
            self.report(
                Diagnostic::error(
                    codes::BAD_COLUMN_RANGE,
                    format!("the column range {first}..{last} is empty"),
                    span,
                )
                .with_label("the end is exclusive and must be after the start")
                .with_hint(format!(
                    "for {len} columns starting at {first}, write `columns {first}..{}`",
                    first + len
                )),
            );
            return None;
        }
        if last - first != len {
            self.report(
                Diagnostic::error(
                    codes::INPUT_COLUMN_COUNT,
                    format!(
                        "input `{}` has {len} element{} but `columns {first}..{last}` names {}",
                        name.name,
                        plural(len),
                        last - first
                    ),
                    span,
                )
                .with_label(format!("{} columns (the end is exclusive)", last - first))
                .with_secondary(shape_span, format!("{len} element{}", plural(len)))
                .with_hint(format!("write `columns {first}..{}`", first + len)),
            );
            return None;
        }
        Some(ColumnSource::Positions {
            start: first,
            end: last,
        })
    }

    pub fn param(&mut self, name: &'a Ident, shape: &'a [Expr], init: &'a ParamInit) {
        let dims = self.extents(shape, 2, "a param");
        let init = match init {
            ParamInit::Zero => Some(Init::Value(0.0)),
            ParamInit::Value(value) => self
                .constant_value(value, "an initial value")
                .map(Init::Value),
            ParamInit::Distribution { name, args, span } => self.distribution(name, args, *span),
        };
        let (Some(dims), Some(init)) = (dims, init) else {
            self.declare(name, Symbol::Broken);
            return;
        };
        let offset = self.program.param_count();
        self.current_span = name.span;
        let node = self.leaf(|graph| graph.param(offset as u32, dims.clone()));
        self.program.params.push(ParamInfo {
            name: name.name.clone(),
            shape: dims.clone(),
            offset,
            init,
        });
        self.declare(name, Symbol::Param(Value::plain(node, dims)));
    }

    fn distribution(&mut self, name: &Ident, args: &'a [Expr], span: Span) -> Option<Init> {
        if name.name != "normal" && name.name != "uniform" {
            let suggestion = crate::scope::closest(&name.name, ["normal", "uniform"].into_iter());
            let hint = match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    "the distributions are `normal(mean, sd)` and `uniform(low, high)`".to_string()
                }
            };
            self.report(
                Diagnostic::error(
                    codes::UNKNOWN_DISTRIBUTION,
                    format!("unknown distribution `{}`", name.name),
                    name.span,
                )
                .with_label("not a distribution")
                .with_hint(hint),
            );
            return None;
        }
        if args.len() != 2 {
            let form = if name.name == "normal" {
                "normal(mean, sd)"
            } else {
                "uniform(low, high)"
            };
            self.report(
                Diagnostic::error(
                    codes::WRONG_ARGUMENT_COUNT,
                    format!(
                        "`{}` takes 2 arguments but {} {} given",
                        name.name,
                        args.len(),
                        were(args.len())
                    ),
                    span,
                )
                .with_label("wrong number of arguments")
                .with_hint(format!("write `~ {form}`")),
            );
            return None;
        }
        let a = self.constant_value(&args[0], "a distribution argument");
        let b = self.constant_value(&args[1], "a distribution argument");
        let (a, b) = (a?, b?);
        if name.name == "normal" {
            if b < 0.0 {
                self.report(
                    Diagnostic::error(
                        codes::BAD_DISTRIBUTION,
                        "the standard deviation must not be negative",
                        args[1].span,
                    )
                    .with_label(format!("this is {b}"))
                    .with_hint("write `~ normal(mean, sd)` with sd >= 0"),
                );
                return None;
            }
            Some(Init::Normal {
                mean: a,
                std_dev: b,
            })
        } else {
            if b < a {
                self.report(
                    Diagnostic::error(codes::BAD_DISTRIBUTION, "the uniform range is empty", span)
                        .with_label(format!("the low end {a} is above the high end {b}"))
                        .with_hint("write `~ uniform(low, high)` with low <= high"),
                );
                return None;
            }
            Some(Init::Uniform { low: a, high: b })
        }
    }
}
