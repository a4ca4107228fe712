//! `gradc grad`'s four output formats (LANGUAGE.md §5): text, LaTeX, DOT and JSON.

use crate::derive::Derived;
use gradc_graph::print::{Listing, Naming, Notation, dot, latex_name};
use gradc_graph::{NodeId, Program};
use serde_json::{Map, Value, json};

/// An output format of `gradc grad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Latex,
    Dot,
    Json,
}

/// How each leaf and named node of the derived graph is printed.
pub fn naming(program: &Program, derived: &Derived) -> Naming {
    let params = (0..program.param_count())
        .map(|i| program.param_element_name(i))
        .collect();
    let inputs = (0..program.input_count())
        .map(|i| program.input_element_name(i))
        .collect();
    let mut reserved: rustc_hash::FxHashSet<String> = program
        .params
        .iter()
        .map(|p| p.name.clone())
        .chain(program.inputs.iter().map(|i| i.name.clone()))
        .collect();
    reserved.extend(program.names.values().cloned());
    reserved.insert("L".to_string());
    Naming {
        params,
        inputs,
        nodes: derived.names.clone(),
        reserved,
    }
}

/// Every printed root with its label: `L`, then `∂L/∂p` per element, then the Hessian's upper
/// triangle.
fn labelled_roots(
    program: &Program,
    derived: &Derived,
    notation: Notation,
) -> Vec<(String, NodeId)> {
    let name = |i: usize| match notation {
        Notation::Text => program.param_element_name(i),
        Notation::Latex => latex_name(&program.param_element_name(i)),
    };
    let mut roots = vec![("L".to_string(), derived.objective)];
    for (i, &g) in derived.gradient.iter().enumerate() {
        let label = match notation {
            Notation::Text => format!("∂L/∂{}", name(i)),
            Notation::Latex => format!("\\frac{{\\partial L}}{{\\partial {}}}", name(i)),
        };
        roots.push((label, g));
    }
    if let Some(hessian) = &derived.hessian {
        for (i, row) in hessian.iter().enumerate() {
            for (j, &h) in row.iter().enumerate().skip(i) {
                let label = match notation {
                    Notation::Text => format!("∂²L/∂{}∂{}", name(i), name(j)),
                    Notation::Latex => format!(
                        "\\frac{{\\partial^2 L}}{{\\partial {}\\,\\partial {}}}",
                        name(i),
                        name(j)
                    ),
                };
                roots.push((label, h));
            }
        }
    }
    roots
}

/// Renders the derivatives in a format.
pub fn render(program: &Program, derived: &Derived, format: Format) -> String {
    let naming = naming(program, derived);
    match format {
        Format::Text => render_notation(program, derived, &naming, Notation::Text),
        Format::Latex => render_notation(program, derived, &naming, Notation::Latex),
        Format::Dot => dot(
            &derived.graph,
            &labelled_roots(program, derived, Notation::Text),
            &naming,
        ),
        Format::Json => {
            let value = json_value(program, derived, &naming);
            let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
            text.push('\n');
            text
        }
    }
}

fn render_notation(
    program: &Program,
    derived: &Derived,
    naming: &Naming,
    notation: Notation,
) -> String {
    let roots = labelled_roots(program, derived, notation);
    let ids: Vec<NodeId> = roots.iter().map(|(_, id)| *id).collect();
    let listing = Listing::new(&derived.graph, &ids, naming);
    let expression = |id: NodeId| {
        // A root that is also a binding prints as its name; its definition is under `where`.
        match listing.name_of(id) {
            Some(name) if notation == Notation::Text => name.to_string(),
            Some(name) => latex_name(name),
            None => listing.expression(&derived.graph, id, naming, notation),
        }
    };
    let binding = |name: &str, id: NodeId| {
        let body = listing.expression(&derived.graph, id, naming, notation);
        match notation {
            Notation::Text => format!("  {name} = {body}\n"),
            Notation::Latex => format!("  {} &= {body} \\\\\n", latex_name(name)),
        }
    };
    let mut out = String::new();
    match notation {
        Notation::Text => {
            for (label, id) in &roots {
                out.push_str(&format!("{label} = {}\n", expression(*id)));
            }
            if !listing.bindings.is_empty() {
                out.push_str("\nwhere\n");
                for (name, id) in &listing.bindings {
                    out.push_str(&binding(name, *id));
                }
            }
        }
        Notation::Latex => {
            out.push_str("\\begin{aligned}\n");
            for (label, id) in &roots {
                out.push_str(&format!("  {label} &= {} \\\\\n", expression(*id)));
            }
            if !listing.bindings.is_empty() {
                out.push_str("  &\\text{where} \\\\\n");
                for (name, id) in &listing.bindings {
                    out.push_str(&binding(name, *id));
                }
            }
            out.push_str("\\end{aligned}\n");
        }
    }
    out
}

fn json_value(program: &Program, derived: &Derived, naming: &Naming) -> Value {
    let mut ids = vec![derived.objective];
    ids.extend(&derived.gradient);
    if let Some(h) = &derived.hessian {
        ids.extend(h.iter().flatten());
    }
    let listing = Listing::new(&derived.graph, &ids, naming);
    let text = |id: NodeId| -> Value {
        let s = match listing.name_of(id) {
            Some(name) => name.to_string(),
            None => listing.expression(&derived.graph, id, naming, Notation::Text),
        };
        Value::String(s)
    };
    let mut partials = Map::new();
    for param in &program.params {
        let elements: Vec<Value> = (param.offset..param.offset + param.len())
            .map(|i| text(derived.gradient[i]))
            .collect();
        let value = match param.shape.as_slice() {
            [] => elements.into_iter().next().unwrap_or(Value::Null),
            [_] => Value::Array(elements),
            [_, n] => Value::Array(
                elements
                    .chunks((*n).max(1))
                    .map(|row| Value::Array(row.to_vec()))
                    .collect(),
            ),
            _ => Value::Array(elements),
        };
        partials.insert(param.name.clone(), value);
    }
    let mut bindings = Map::new();
    for (name, id) in &listing.bindings {
        bindings.insert(
            name.clone(),
            Value::String(listing.expression(&derived.graph, *id, naming, Notation::Text)),
        );
    }
    let mut ops = json!({
        "forward": derived.ops.forward,
        "gradient": derived.ops.gradient,
        "gradient_unsimplified": derived.ops.gradient_unsimplified,
    });
    if let Some(h) = derived.ops.hessian {
        ops["hessian"] = json!(h);
    }
    let mut object = json!({
        "params": program.params.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        "objective": text(derived.objective),
        "partials": partials,
        "where": bindings,
        "ops": ops,
    });
    if let Some(h) = &derived.hessian {
        object["hessian"] = Value::Array(
            h.iter()
                .map(|row| Value::Array(row.iter().map(|&id| text(id)).collect()))
                .collect(),
        );
    }
    object
}
