//! Module-level behaviour: train/eval propagation, freezing, names from
//! `#[derive(Module)]`, and state-dict loading reports.

use strata_core::{manual_seed, Tensor};
use strata_nn::{
    BatchNorm1d, Dropout, Error, Flatten, Forward, LayerNorm, Linear, Module, ModuleExt, ReLU,
    Result, Sequential,
};

/// A user-defined model with every kind of field `#[derive(Module)]` handles.
#[derive(Module)]
struct Net {
    blocks: Vec<Linear>,
    norm: Option<LayerNorm>,
    missing: Option<Linear>,
    bn: BatchNorm1d,
    drop: Dropout,
    head: Sequential,
    #[module(skip)]
    #[allow(dead_code)]
    label: Vec<String>,
    scale: f64,
}

impl Net {
    fn new() -> Net {
        Net {
            blocks: vec![Linear::new(4, 6).unwrap(), Linear::new(6, 6).unwrap()],
            norm: Some(LayerNorm::new(&[6]).unwrap()),
            missing: None,
            bn: BatchNorm1d::new(6).unwrap(),
            drop: Dropout::new(0.5).unwrap(),
            head: Sequential::new()
                .push(ReLU::new())
                .push(Linear::new(6, 2).unwrap()),
            label: vec!["not a module".into()],
            scale: 1.0,
        }
    }
}

impl Forward for Net {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for b in &self.blocks {
            h = b.forward(&h)?;
        }
        if let Some(n) = &self.norm {
            h = n.forward(&h)?;
        }
        h = self.drop.forward(&self.bn.forward(&h)?)?;
        Ok(self.head.forward(&h)?.mul_scalar(self.scale)?)
    }
}

#[test]
fn derive_names_vec_option_and_nested_fields_like_pytorch() {
    let net = Net::new();
    let names: Vec<String> = net.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "blocks.0.weight",
            "blocks.0.bias",
            "blocks.1.weight",
            "blocks.1.bias",
            "norm.weight",
            "norm.bias",
            "bn.weight",
            "bn.bias",
            "head.1.weight",
            "head.1.bias",
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked",
        ]
    );
    assert_eq!(
        net.num_parameters(),
        4 * 6 + 6 + 6 * 6 + 6 + 6 + 6 + 6 + 6 + 6 * 2 + 2
    );
    assert_eq!(
        net.forward(&Tensor::randn(&[5, 4])).unwrap().shape(),
        &[5, 2]
    );
}

#[test]
fn train_and_eval_reach_every_nested_module() {
    let net = Net::new();
    assert_eq!(net.bn.is_training(), Some(true));
    assert_eq!(net.drop.is_training(), Some(true));
    net.eval();
    assert_eq!(net.bn.is_training(), Some(false));
    assert_eq!(net.drop.is_training(), Some(false));
    net.train();
    assert_eq!(net.bn.is_training(), Some(true));
    assert_eq!(net.drop.is_training(), Some(true));

    // The same through Sequential, observed by behaviour.
    let seq = Sequential::new()
        .push(BatchNorm1d::new(3).unwrap())
        .push(Dropout::new(0.5).unwrap());
    let x = Tensor::randn(&[8, 3]);
    seq.eval();
    let stats = |s: &Sequential| {
        s.named_buffers()
            .into_iter()
            .map(|(_, b)| b.to_vec_f64())
            .collect::<Vec<_>>()
    };
    let before = stats(&seq);
    let y1 = seq.forward(&x).unwrap();
    let y2 = seq.forward(&x).unwrap();
    // Evaluation: deterministic (no dropout), running statistics untouched.
    assert_eq!(y1.to_vec::<f32>().unwrap(), y2.to_vec::<f32>().unwrap());
    assert_eq!(stats(&seq), before);
    seq.train();
    manual_seed(1);
    seq.forward(&x).unwrap();
    assert_ne!(stats(&seq), before);
    assert_eq!(stats(&seq)[2], vec![1.0]); // num_batches_tracked
}

#[test]
fn frozen_parameters_get_no_gradient_and_no_update() {
    let net = Net::new();
    net.eval(); // deterministic
    assert_eq!(net.set_trainable_prefix("blocks", false), 4);
    assert_eq!(net.set_trainable_prefix("bn", false), 2);
    assert_eq!(net.set_trainable_prefix("block", false), 0); // a prefix is a whole name
    let trainable: Vec<String> = net
        .named_parameters()
        .into_iter()
        .filter(|(_, p)| p.is_trainable())
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        trainable,
        ["norm.weight", "norm.bias", "head.1.weight", "head.1.bias"]
    );
    assert_eq!(net.num_trainable_parameters(), 6 + 6 + 12 + 2);

    let frozen_before: Vec<Vec<f64>> = net.blocks.iter().map(|b| b.weight().to_vec_f64()).collect();
    let head_before = net.head.named_parameters()[0].1.to_vec_f64();
    let x = Tensor::randn(&[5, 4]);
    let grads = net
        .forward(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    for (name, p) in net.named_parameters() {
        assert_eq!(p.grad(&grads).is_some(), p.is_trainable(), "{name}");
    }
    for p in net.trainable_parameters() {
        p.add_scaled_(p.grad(&grads).unwrap(), -0.1).unwrap();
    }
    let frozen_after: Vec<Vec<f64>> = net.blocks.iter().map(|b| b.weight().to_vec_f64()).collect();
    assert_eq!(frozen_before, frozen_after);
    assert_ne!(head_before, net.head.named_parameters()[0].1.to_vec_f64());

    // freeze / unfreeze everything.
    net.freeze();
    assert_eq!(net.num_trainable_parameters(), 0);
    let y = net.forward(&x).unwrap();
    assert!(!y.requires_grad());
    net.unfreeze();
    assert_eq!(net.num_trainable_parameters(), net.num_parameters());
}

#[test]
fn load_state_dict_strict_and_non_strict_reports() {
    let src = Sequential::new()
        .push(Linear::new(4, 3).unwrap())
        .push(BatchNorm1d::new(3).unwrap());
    let dst = Sequential::new()
        .push(Linear::new(4, 3).unwrap())
        .push(BatchNorm1d::new(3).unwrap());
    src.forward(&Tensor::randn(&[6, 4])).unwrap(); // moves the running statistics
    let report = dst.load_state_dict(&src.state_dict(), true).unwrap();
    assert_eq!(report.loaded.len(), 7);
    assert!(report.problems.is_empty());
    for ((n, a), (_, b)) in src.state_dict().iter().zip(dst.state_dict()) {
        assert_eq!(a.to_vec_f64(), b.to_vec_f64(), "{n}");
    }

    // A model that differs: another head size and an extra layer.
    let other = Sequential::new()
        .push(Linear::new(4, 5).unwrap())
        .push(BatchNorm1d::new(3).unwrap())
        .push(Flatten::new())
        .push(Linear::new(3, 1).unwrap());
    let before: Vec<Vec<f64>> = other
        .state_dict()
        .iter()
        .map(|(_, t)| t.to_vec_f64())
        .collect();
    let err = other.load_state_dict(&src.state_dict(), true).unwrap_err();
    let Error::StateDict(problems) = &err else {
        panic!("{err}")
    };
    assert_eq!(problems.missing, ["3.weight", "3.bias"]);
    assert!(problems.unexpected.is_empty());
    let mismatched: Vec<&str> = problems
        .mismatched
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(mismatched, ["0.weight", "0.bias"]);
    assert!(
        err.to_string()
            .contains("0.weight: model has [5, 4], checkpoint has [3, 4]"),
        "{err}"
    );
    // Strict failure loads nothing.
    let after: Vec<Vec<f64>> = other
        .state_dict()
        .iter()
        .map(|(_, t)| t.to_vec_f64())
        .collect();
    assert_eq!(before, after);

    // Non-strict loads the BatchNorm (all that matches) and reports the rest.
    let report = other.load_state_dict(&src.state_dict(), false).unwrap();
    assert_eq!(
        report.loaded,
        [
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked"
        ]
    );
    assert_eq!(report.problems.missing, ["3.weight", "3.bias"]);
    assert_eq!(report.problems.mismatched.len(), 2);
    assert_eq!(
        other.state_dict()[7].1.to_vec_f64(),
        src.state_dict()[5].1.to_vec_f64(),
        "running_var copied"
    );

    // Unexpected keys.
    let mut extra = src.state_dict();
    extra.push(("9.weight".into(), Tensor::zeros(&[2])));
    let err = dst.load_state_dict(&extra, true).unwrap_err();
    assert!(
        err.to_string().contains("unexpected keys: 9.weight"),
        "{err}"
    );
    let report = dst.load_state_dict(&extra, false).unwrap();
    assert_eq!(report.problems.unexpected, ["9.weight"]);
}

#[test]
fn batch_norm_momentum_none_is_a_cumulative_average() {
    let cfg = strata_nn::BatchNormConfig {
        momentum: None,
        dtype: strata_core::DType::F64,
        ..Default::default()
    };
    let bn = BatchNorm1d::with_config(1, cfg).unwrap();
    let batches = [vec![1.0, 3.0], vec![2.0, 6.0], vec![0.0, 0.0, 3.0]];
    for b in &batches {
        let n = b.len();
        bn.forward(&Tensor::from_vec(b.clone(), &[n, 1]).unwrap())
            .unwrap();
    }
    // Means 2, 4, 1 → average 7/3; unbiased variances 2, 8, 3 → average 13/3 (the
    // initial values 0 and 1 are forgotten: the first factor is 1).
    let m = bn.running_mean().unwrap().to_vec::<f64>().unwrap()[0];
    let v = bn.running_var().unwrap().to_vec::<f64>().unwrap()[0];
    assert!((m - 7.0 / 3.0).abs() < 1e-12, "{m}");
    assert!((v - 13.0 / 3.0).abs() < 1e-12, "{v}");
    assert_eq!(
        bn.num_batches_tracked().unwrap().to_vec::<i64>().unwrap(),
        vec![3]
    );
}

#[test]
fn batch_norm_input_errors() {
    let bn = strata_nn::BatchNorm2d::new(3).unwrap();
    let err = bn.forward(&Tensor::zeros(&[2, 4, 5, 5])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "BatchNorm2d(3): expected input [N, 3, H, W], got input of shape [2, 4, 5, 5]"
    );
    let err = bn.forward(&Tensor::zeros(&[2, 3, 5])).unwrap_err();
    assert!(
        err.to_string().contains("expected input [N, 3, H, W]"),
        "{err}"
    );
    let bn1 = BatchNorm1d::new(3).unwrap();
    let err = bn1.forward(&Tensor::zeros(&[1, 3])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "BatchNorm1d(3): expected more than 1 value per channel when training, got input of shape [1, 3]"
    );
    bn1.eval();
    assert_eq!(
        bn1.forward(&Tensor::zeros(&[1, 3])).unwrap().shape(),
        &[1, 3]
    );
    let err = bn1
        .forward(&Tensor::zeros(&[2, 3]).to_dtype(strata_core::DType::F64))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BatchNorm1d(3): expected f32 input like its parameters, not f64 (convert with to_dtype), got input of shape [2, 3]"
    );
    assert!(BatchNorm1d::new(0).is_err());
    let bad = strata_nn::BatchNormConfig {
        momentum: Some(1.5),
        ..Default::default()
    };
    assert!(BatchNorm1d::with_config(3, bad).is_err());
}
