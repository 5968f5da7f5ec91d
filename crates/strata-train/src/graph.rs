//! The computational graph behind a tensor as Graphviz DOT (`graph.dot` of a run), and
//! as SVG when Graphviz's `dot` program is installed.

use crate::{Result, TrainError};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use strata_core::{Tensor, TensorId};

/// The graph of recorded ops that produced `root`, in DOT: one box per op (its name and
/// output shape), one ellipse per leaf input (the name from `names` whose tensor it is,
/// else `input`, and its shape), and edges from inputs to the ops that use them.
///
/// `names` is typically a model's parameters:
/// `model.named_parameters().into_iter().map(|(n, p)| (n, p.tensor().clone()))`.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::graph::to_dot;
/// let w = Tensor::ones(&[3, 2]).requires_grad_();
/// let y = Tensor::ones(&[4, 3]).matmul(&w)?.relu()?;
/// let dot = to_dot(&y, &[("w".to_string(), w.clone())])?;
/// assert!(dot.contains(r#"label="matmul\n[4, 2]""#));
/// assert!(dot.contains(r#"label="w\n[3, 2]""#));
/// # Ok::<(), strata_train::TrainError>(())
/// ```
pub fn to_dot(root: &Tensor, names: &[(String, Tensor)]) -> Result<String> {
    let nodes = root.graph()?;
    let mut name_of: HashMap<TensorId, &str> = HashMap::new();
    for (name, t) in names {
        name_of.entry(t.id()).or_insert(name);
    }
    let ops: HashSet<TensorId> = nodes.iter().map(|n| n.id).collect();
    let mut declared: HashSet<TensorId> = HashSet::new();

    let mut out = String::from("digraph strata {\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=10];\n");
    let mut leaf = |out: &mut String, id: TensorId, shape: &[usize]| {
        if declared.insert(id) {
            let (label, colour) = match name_of.get(&id) {
                Some(name) => (*name, "#d9f0d3"),
                None => ("input", "#eeeeee"),
            };
            let _ = writeln!(
                out,
                "  {} [label=\"{}\\n{shape:?}\", shape=ellipse, style=filled, fillcolor=\"{colour}\"];",
                node_id(id),
                escape(label),
            );
        }
    };
    if nodes.is_empty() {
        leaf(&mut out, root.id(), root.shape());
    }
    for node in &nodes {
        for input in node.inputs.iter().filter(|i| !ops.contains(&i.id)) {
            leaf(&mut out, input.id, &input.shape);
        }
        let border = if node.id == root.id() {
            ", penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} [label=\"{}\\n{:?}\", shape=box, style=filled, fillcolor=\"#dbe8f6\"{border}];",
            node_id(node.id),
            escape(node.op),
            node.output_shape,
        );
    }
    for node in &nodes {
        for input in &node.inputs {
            let _ = writeln!(out, "  {} -> {};", node_id(input.id), node_id(node.id));
        }
    }
    out.push_str("}\n");
    Ok(out)
}

/// Writes [`to_dot`]'s graph to `path_dot` and, when Graphviz's `dot` is on the `PATH`,
/// renders it to an SVG next to it (same name, `.svg`) and returns that path; `Ok(None)`
/// when `dot` is not installed. Rendering very large graphs can take `dot` a while.
pub fn write_graph(
    root: &Tensor,
    names: &[(String, Tensor)],
    path_dot: &Path,
) -> Result<Option<PathBuf>> {
    let dot = to_dot(root, names)?;
    std::fs::write(path_dot, dot).map_err(|e| TrainError::file(path_dot, e))?;
    render_svg("dot", path_dot)
}

/// Runs `program -Tsvg` on `path_dot`; `Ok(None)` when the program does not exist.
fn render_svg(program: &str, path_dot: &Path) -> Result<Option<PathBuf>> {
    let svg = path_dot.with_extension("svg");
    let run = Command::new(program)
        .arg("-Tsvg")
        .arg("-o")
        .arg(&svg)
        .arg(path_dot)
        .output();
    match run {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TrainError::file(
            &svg,
            format!("could not run {program}: {e}"),
        )),
        Ok(o) if !o.status.success() => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            Err(TrainError::file(
                &svg,
                format!("{program} failed: {}", stderr.trim()),
            ))
        }
        Ok(_) => Ok(Some(svg)),
    }
}

fn node_id(id: TensorId) -> String {
    format!("n{}", id.as_u64())
}

/// `s` made safe inside a double-quoted DOT string.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_nn::{mse_loss, Forward, Linear, ModuleExt, ReLU, Sequential};

    /// The DOT node names declared (`n12 [...]`) and the edges (`n3 -> n12;`) of `dot`.
    fn parse(dot: &str) -> (HashSet<String>, Vec<(String, String)>) {
        let mut nodes = HashSet::new();
        let mut edges = Vec::new();
        for line in dot.lines().map(str::trim) {
            if let Some((a, b)) = line.strip_suffix(';').and_then(|l| l.split_once(" -> ")) {
                edges.push((a.to_string(), b.to_string()));
            } else if let Some((id, _)) = line.split_once(" [label=") {
                assert!(nodes.insert(id.to_string()), "{id} declared twice");
            }
        }
        (nodes, edges)
    }

    /// Every line's double-quoted strings are closed, with only `\\`, `\"` and `\n` escapes.
    fn assert_valid_quoting(dot: &str) {
        for line in dot.lines() {
            let (mut quoted, mut chars) = (false, line.chars());
            while let Some(c) = chars.next() {
                match (quoted, c) {
                    (_, '"') => quoted = !quoted,
                    (true, '\\') => {
                        assert!(matches!(chars.next(), Some('\\' | '"' | 'n')), "{line}")
                    }
                    _ => {}
                }
            }
            assert!(!quoted, "unclosed string: {line}");
        }
    }

    fn mlp_loss() -> (Tensor, Vec<(String, Tensor)>) {
        let model = Sequential::new()
            .push(Linear::new(4, 8).unwrap())
            .push(ReLU::new())
            .push(Linear::new(8, 3).unwrap());
        let x = Tensor::ones(&[5, 4]);
        let loss = mse_loss(&model.forward(&x).unwrap(), &Tensor::zeros(&[5, 3])).unwrap();
        let names = model
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.tensor().clone()))
            .collect();
        (loss, names)
    }

    #[test]
    fn an_mlp_loss_graph_names_its_ops_and_parameters() {
        let (loss, names) = mlp_loss();
        let dot = to_dot(&loss, &names).unwrap();
        assert!(
            dot.starts_with("digraph strata {\n") && dot.ends_with("}\n"),
            "{dot}"
        );
        assert_eq!(dot.matches("label=\"linear\\n").count(), 2, "{dot}");
        assert!(dot.contains("label=\"linear\\n[5, 8]\""), "{dot}");
        assert!(dot.contains("label=\"relu\\n[5, 8]\""), "{dot}");
        for (name, shape) in [
            ("0.weight", "[8, 4]"),
            ("0.bias", "[8]"),
            ("2.weight", "[3, 8]"),
            ("2.bias", "[3]"),
        ] {
            assert!(
                dot.contains(&format!("label=\"{name}\\n{shape}\"")),
                "{name}: {dot}"
            );
        }
        // The batch and the target are unnamed inputs; the loss is drawn bold.
        assert!(dot.contains("label=\"input\\n[5, 4]\""), "{dot}");
        assert!(dot.contains("label=\"input\\n[5, 3]\""), "{dot}");
        assert!(dot.contains("label=\"mse_loss\\n[]\", shape=box"), "{dot}");
        assert_eq!(dot.matches("penwidth=2").count(), 1, "{dot}");
        assert_valid_quoting(&dot);

        let (nodes, edges) = parse(&dot);
        let graph = loss.graph().unwrap();
        // Each op is a node, plus the four parameters, the batch and the target.
        assert_eq!(nodes.len(), graph.len() + 6, "{dot}");
        let inputs: usize = graph.iter().map(|n| n.inputs.len()).sum();
        assert_eq!(edges.len(), inputs);
        for (a, b) in &edges {
            assert!(
                nodes.contains(a) && nodes.contains(b),
                "{a} -> {b} undeclared: {dot}"
            );
        }
        // The loss is the last op and the only one nothing consumes.
        let root = node_id(loss.id());
        assert!(edges.iter().all(|(a, _)| a != &root));
        assert!(edges.iter().any(|(_, b)| b == &root));
    }

    #[test]
    fn names_with_quotes_and_backslashes_are_escaped() {
        let w = Tensor::ones(&[2]).requires_grad_();
        let y = w.mul_scalar(2.0).unwrap();
        let dot = to_dot(&y, &[("we\"ird\\na\nme".to_string(), w.clone())]).unwrap();
        assert!(dot.contains(r#"label="we\"ird\\na\nme\n[2]""#), "{dot}");
        assert_valid_quoting(&dot);
        assert_eq!(escape("a\"b"), "a\\\"b");
    }

    #[test]
    fn a_leaf_is_a_graph_of_one_node() {
        let x = Tensor::zeros(&[3]);
        let dot = to_dot(&x, &[]).unwrap();
        let (nodes, edges) = parse(&dot);
        assert_eq!(nodes, HashSet::from([node_id(x.id())]));
        assert!(edges.is_empty());
    }

    #[test]
    fn write_graph_writes_dot_and_skips_svg_without_graphviz() {
        let dir = std::env::temp_dir().join(format!("strata-graph-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (loss, names) = mlp_loss();
        let path = dir.join("graph.dot");
        let svg = write_graph(&loss, &names, &path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            to_dot(&loss, &names).unwrap()
        );
        assert_eq!(
            render_svg("no-such-dot-program-strata", &path).unwrap(),
            None
        );
        // With Graphviz installed the SVG exists; without, nothing is rendered.
        match svg {
            Some(svg) => {
                assert_eq!(svg, dir.join("graph.svg"));
                let text = std::fs::read_to_string(&svg).unwrap();
                assert!(text.contains("<svg") && text.contains("0.weight"));
            }
            None => assert!(!dir.join("graph.svg").exists()),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
