//! `summary`: names, shapes and parameter counts of a model's layers, the table, and that
//! summarising changes nothing in the model.

use strata_core::{global_generator_state, manual_seed, DType, Tensor};
use strata_nn::{
    hooks, summary, summary_with_input, BatchNorm1d, BatchNorm2d, BatchNormConfig, Dropout,
    Flatten, Forward, Identity, LayerNorm, Linear, Module, ModuleExt, PReLU, ReLU, Result,
    Sequential, SummaryExt, SummaryRow, Swish,
};

/// The tests here share the process-wide generator (layer initialisation draws from it), and
/// one of them checks that `summary` leaves it untouched: run them one at a time so no other
/// test's draws land between that test's snapshot and its check.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn cnn_like() -> Sequential {
    Sequential::new()
        .push(BatchNorm2d::new(3).unwrap())
        .push(PReLU::new(3).unwrap())
        .push(Flatten::new())
        .push(Linear::new(48, 16).unwrap())
        .push(BatchNorm1d::new(16).unwrap())
        .push(ReLU::new())
        .push(Dropout::new(0.5).unwrap())
        .push(Linear::new(16, 10).unwrap())
}

fn row(
    name: &str,
    type_name: &'static str,
    shape: &[usize],
    params: usize,
    trainable: usize,
) -> SummaryRow {
    SummaryRow {
        name: name.to_string(),
        type_name,
        output_shape: shape.to_vec(),
        params,
        trainable,
    }
}

#[test]
fn sequential_cnn_rows_totals_and_table() {
    let _serial = one_at_a_time();
    let model = cnn_like();
    let s = summary(&model, &[2, 3, 4, 4]).unwrap();
    assert_eq!(
        s.rows,
        [
            row("0", "BatchNorm2d", &[2, 3, 4, 4], 6, 6),
            row("1", "PReLU", &[2, 3, 4, 4], 3, 3),
            row("2", "Flatten", &[2, 48], 0, 0),
            row("3", "Linear", &[2, 16], 48 * 16 + 16, 48 * 16 + 16),
            row("4", "BatchNorm1d", &[2, 16], 32, 32),
            row("5", "ReLU", &[2, 16], 0, 0),
            row("6", "Dropout", &[2, 16], 0, 0),
            row("7", "Linear", &[2, 10], 170, 170),
        ]
    );
    assert_eq!(
        (s.total_params, s.trainable_params, s.non_trainable_params),
        (995, 995, 0)
    );
    assert_eq!(s.model, "Sequential");
    assert_eq!(s.input_shape, [2, 3, 4, 4]);
    let golden = "\
Model: Sequential, input [2, 3, 4, 4]
----------------------------------------------------
Layer  Type         Output Shape  Param #  Trainable
====================================================
0      BatchNorm2d  [2, 3, 4, 4]        6          6
1      PReLU        [2, 3, 4, 4]        3          3
2      Flatten      [2, 48]             0          0
3      Linear       [2, 16]           784        784
4      BatchNorm1d  [2, 16]            32         32
5      ReLU         [2, 16]             0          0
6      Dropout      [2, 16]             0          0
7      Linear       [2, 10]           170        170
====================================================
Total params: 995
Trainable params: 995
Non-trainable params: 0
----------------------------------------------------";
    assert_eq!(s.to_string(), golden);
    // The method form gives the same.
    assert_eq!(model.summary(&[2, 3, 4, 4]).unwrap(), s);
}

/// A user-defined model: residual blocks in a Vec, an optional head, a skipped field, and
/// a throwaway layer built inside `forward` (not part of the tree).
#[derive(Module)]
struct Classifier {
    embed: Linear,
    blocks: Vec<Sequential>,
    head: Option<Linear>,
    #[module(skip)]
    #[allow(dead_code)]
    tag: String,
}

impl Classifier {
    fn new() -> Classifier {
        let block = || {
            Sequential::new()
                .push(LayerNorm::new(&[12]).unwrap())
                .push(Swish::per_channel(12).unwrap())
                .push(Identity::new())
        };
        Classifier {
            embed: Linear::new(8, 12).unwrap(),
            blocks: vec![block(), block()],
            head: Some(Linear::new(12, 3).unwrap()),
            tag: "demo".into(),
        }
    }
}

impl Forward for Classifier {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.embed.forward(x)?;
        for b in &self.blocks {
            h = h.add(&b.forward(&h)?)?;
        }
        let h = ReLU::new().forward(&h)?;
        let y = match &self.head {
            Some(head) => head.forward(&h)?,
            None => h,
        };
        hooks::emit(self, &y);
        Ok(y)
    }
}

#[test]
fn derived_model_rows_use_state_dict_paths() {
    let _serial = one_at_a_time();
    let model = Classifier::new();
    assert_eq!(model.set_trainable_prefix("embed", false), 2);
    let s = model.summary(&[4, 8]).unwrap();
    let block = |i: usize| {
        [
            row(&format!("blocks.{i}.0"), "LayerNorm", &[4, 12], 24, 24),
            row(&format!("blocks.{i}.1"), "Swish", &[4, 12], 12, 12),
            row(&format!("blocks.{i}.2"), "Identity", &[4, 12], 0, 0),
        ]
    };
    let mut want = vec![row("embed", "Linear", &[4, 12], 108, 0)];
    want.extend(block(0));
    want.extend(block(1));
    want.push(row("?", "ReLU", &[4, 12], 0, 0));
    want.push(row("head", "Linear", &[4, 3], 39, 39));
    want.push(row("", "Classifier", &[4, 3], 0, 0));
    assert_eq!(s.rows, want);
    assert_eq!(
        (s.total_params, s.trainable_params, s.non_trainable_params),
        (219, 111, 108)
    );
    let golden = "\
Model: Classifier, input [4, 8]
--------------------------------------------------------
Layer       Type        Output Shape  Param #  Trainable
========================================================
embed       Linear      [4, 12]           108          0
blocks.0.0  LayerNorm   [4, 12]            24         24
blocks.0.1  Swish       [4, 12]            12         12
blocks.0.2  Identity    [4, 12]             0          0
blocks.1.0  LayerNorm   [4, 12]            24         24
blocks.1.1  Swish       [4, 12]            12         12
blocks.1.2  Identity    [4, 12]             0          0
?           ReLU        [4, 12]             0          0
head        Linear      [4, 3]             39         39
(model)     Classifier  [4, 3]              0          0
========================================================
Total params: 219
Trainable params: 111
Non-trainable params: 108
--------------------------------------------------------";
    assert_eq!(s.to_string(), golden);
}

#[test]
fn summary_changes_neither_modes_nor_statistics_nor_the_generator() {
    let _serial = one_at_a_time();
    let model = cnn_like();
    manual_seed(17);
    let rng = global_generator_state();
    let buffers = |m: &Sequential| {
        m.named_buffers()
            .into_iter()
            .map(|(_, b)| b.to_vec_f64())
            .collect::<Vec<_>>()
    };
    let before = buffers(&model);
    let modes = |m: &Sequential| m.iter().map(|l| l.is_training()).collect::<Vec<_>>();
    // Mixed modes: everything in training except the BatchNorm1d.
    model.get(4).unwrap().set_training(false);
    let mode_before = modes(&model);
    assert_eq!(mode_before[0], Some(true));
    assert_eq!(mode_before[4], Some(false));
    summary(&model, &[1, 3, 4, 4]).unwrap(); // batch 1: fine in evaluation mode
    assert_eq!(modes(&model), mode_before);
    assert_eq!(buffers(&model), before);
    assert_eq!(global_generator_state(), rng);
    // A failing pass restores the modes too.
    assert!(summary(&model, &[2, 5, 4, 4]).is_err());
    assert_eq!(modes(&model), mode_before);
}

#[test]
fn input_dtype_follows_the_model_and_custom_inputs_work() {
    let _serial = one_at_a_time();
    let cfg = BatchNormConfig {
        dtype: DType::F64,
        ..BatchNormConfig::default()
    };
    let model = Sequential::new()
        .push(BatchNorm1d::with_config(4, cfg).unwrap())
        .push(Flatten::with_dims(0, -1));
    let s = summary(&model, &[3, 4]).unwrap();
    assert_eq!(s.rows[1].output_shape, [12]);
    // No parameters: f32 zeros; a given input is used as is.
    let relu = ReLU::new();
    assert_eq!(
        summary(&relu, &[2]).unwrap().rows,
        [row("", "ReLU", &[2], 0, 0)]
    );
    let s = summary_with_input(&relu, &Tensor::ones(&[5, 1])).unwrap();
    assert_eq!(s.input_shape, [5, 1]);
    assert_eq!(s.rows[0].output_shape, [5, 1]);
}

#[test]
fn a_layer_called_twice_appears_twice() {
    let _serial = one_at_a_time();
    #[derive(Module)]
    struct Twice {
        layer: Linear,
    }
    impl Forward for Twice {
        fn forward(&self, x: &Tensor) -> Result<Tensor> {
            self.layer.forward(&self.layer.forward(x)?)
        }
    }
    let m = Twice {
        layer: Linear::new(3, 3).unwrap(),
    };
    let s = summary(&m, &[1, 3]).unwrap();
    assert_eq!(
        s.rows,
        [
            row("layer", "Linear", &[1, 3], 12, 12),
            row("layer", "Linear", &[1, 3], 12, 12)
        ]
    );
    assert_eq!(s.total_params, 12);
}
