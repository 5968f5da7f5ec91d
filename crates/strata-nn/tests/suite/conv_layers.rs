//! Convolution and pooling layers: `Padding::Same` (shapes and values against explicit
//! padding), gradchecks of inputs and parameters, PyTorch's default initialisation and
//! parameter names, and configuration/input errors.

use strata_core::{gradcheck, DType, GradcheckOptions, MaxPool1dParams, Tensor};
use strata_nn::{
    AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, Conv1d, Conv2d, ConvOptions, ConvTranspose1d,
    ConvTranspose2d, ConvTransposeOptions, Forward, GlobalAvgPool2d, MaxPool1d, MaxPool2d,
    ModuleExt, Padding, Param,
};
use strata_testutil::assert_close;

fn randn64(shape: &[usize]) -> Tensor {
    Tensor::randn(shape).to_dtype(DType::F64)
}

/// `t[.., a..a+h, b..b+w]` of a 4-D tensor.
fn crop(t: &Tensor, (a, h): (usize, usize), (b, w): (usize, usize)) -> Tensor {
    t.narrow(2, a, h).unwrap().narrow(3, b, w).unwrap()
}

#[test]
fn same_padding_keeps_the_size_and_equals_cropped_explicit_padding() {
    // (kernel, dilation): odd totals (even kernels) put the extra zero at the bottom/right.
    for (k, d) in [
        ((3, 3), (1, 1)),
        ((4, 4), (1, 1)),
        ((2, 5), (1, 1)),
        ((3, 4), (2, 1)),
    ] {
        let x = randn64(&[2, 3, 7, 6]);
        let same = ConvOptions::new().padding(Padding::Same).dilation(d);
        let layer = Conv2d::with_options(3, 4, k, same).unwrap();
        let (w, b) = (
            layer.weight().to_dtype(DType::F64),
            layer.bias().unwrap().to_dtype(DType::F64),
        );
        let layer = Conv2d::from_weights(w.clone(), Some(b.clone()), same).unwrap();
        let y = layer.forward(&x).unwrap();
        assert_eq!(y.shape(), &[2, 4, 7, 6], "kernel {k:?} dilation {d:?}");
        // Pad both sides with the larger half, then drop the leading row/col in excess.
        let (rows, cols) = (Padding::same_split(k.0, d.0), Padding::same_split(k.1, d.1));
        let wide = ConvOptions::new().padding((rows.1, cols.1)).dilation(d);
        let full = Conv2d::from_weights(w, Some(b), wide)
            .unwrap()
            .forward(&x)
            .unwrap();
        let want = crop(&full, (rows.1 - rows.0, 7), (cols.1 - cols.0, 6));
        assert_close(&y, &want, 1e-12, 1e-12, &format!("same {k:?} {d:?}"));
    }
    // PyTorch's split: total d(k-1), the odd one after.
    assert_eq!(Padding::same_split(4, 1), (1, 2));
    assert_eq!(Padding::same_split(3, 2), (2, 2));
    assert_eq!(Padding::same_split(1, 1), (0, 0));
}

#[test]
fn conv1d_same_padding_matches_cropped_explicit_padding() {
    for k in [1, 2, 3, 6] {
        let x = randn64(&[2, 3, 9]);
        let same = ConvOptions::new().padding(Padding::Same);
        let w = randn64(&[5, 3, k]);
        let y = Conv1d::from_weights(w.clone(), None, same)
            .unwrap()
            .forward(&x)
            .unwrap();
        assert_eq!(y.shape(), &[2, 5, 9]);
        let (before, after) = Padding::same_split(k, 1);
        let full = Conv1d::from_weights(w, None, ConvOptions::new().padding(after))
            .unwrap()
            .forward(&x)
            .unwrap();
        assert_close(
            &y,
            &full.narrow(2, after - before, 9).unwrap(),
            1e-12,
            1e-12,
            "conv1d same",
        );
    }
}

#[test]
fn same_padding_with_a_stride_is_an_error() {
    let o = ConvOptions::new().padding(Padding::Same).stride(2);
    let e = Conv2d::with_options(3, 4, 3, o).err().unwrap().to_string();
    assert!(e.contains("padding = Same needs stride 1"), "{e}");
    assert!(Conv1d::with_options(3, 4, 3, o).is_err());
}

/// Checks the gradient of `sum(forward(x) * r)` with respect to every parameter of `layer`
/// against central differences (parameters live in `Param`s, so `gradcheck`'s inputs cannot
/// reach them).
fn check_param_grads(layer: &dyn Forward, x: &Tensor) {
    if layer.named_parameters().is_empty() {
        return;
    }
    let y = layer.forward(x).unwrap();
    let r = randn64(y.shape());
    let loss = |layer: &dyn Forward| {
        layer
            .forward(x)
            .unwrap()
            .mul(&r)
            .unwrap()
            .sum_all()
            .unwrap()
    };
    let grads = loss(layer).backward().unwrap();
    for (name, p) in layer.named_parameters() {
        let analytic = p.grad(&grads).unwrap().to_vec::<f64>().unwrap();
        let base = p.to_vec::<f64>().unwrap();
        let eps = 1e-6;
        for i in 0..base.len() {
            let mut v = base.clone();
            let set = |p: &Param, v: &[f64]| {
                p.assign(&Tensor::from_vec(v.to_vec(), p.shape()).unwrap())
                    .unwrap()
            };
            v[i] = base[i] + eps;
            set(&p, &v);
            let up = loss(layer).item().unwrap();
            v[i] = base[i] - eps;
            set(&p, &v);
            let down = loss(layer).item().unwrap();
            set(&p, &base);
            let numeric = (up - down) / (2.0 * eps);
            assert!(
                (numeric - analytic[i]).abs() <= 1e-5 * (1.0 + numeric.abs()),
                "{}: d/d{name}[{i}] numeric {numeric}, analytic {}",
                layer.extra_repr(),
                analytic[i]
            );
        }
    }
}

/// A layer error as a tensor error, for `gradcheck` closures.
fn core(e: strata_nn::Error) -> strata_core::Error {
    match e {
        strata_nn::Error::Tensor(e) => e,
        other => panic!("unexpected layer error: {other}"),
    }
}

/// Gradchecks the layer in its input (also through a transposed, non-contiguous view) and
/// in its parameters.
fn gradcheck_layer(layer: &dyn Forward, input_shape: &[usize]) {
    let opts = GradcheckOptions::default();
    gradcheck(
        |t| layer.forward(&t[0]).map_err(core),
        &[randn64(input_shape)],
        opts,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", layer.extra_repr()));
    let n = input_shape.len();
    let mut swapped = input_shape.to_vec();
    swapped.swap(n - 1, n - 2);
    gradcheck(
        |t| layer.forward(&t[0].transpose(n - 1, n - 2)?).map_err(core),
        &[randn64(&swapped)],
        opts,
    )
    .unwrap_or_else(|e| panic!("{} (view): {e}", layer.extra_repr()));
    check_param_grads(layer, &randn64(input_shape));
}

#[test]
fn conv_layers_gradcheck() {
    let c = |w: &[usize], bias: bool, o: ConvOptions| {
        Conv2d::from_weights(randn64(w), bias.then(|| randn64(&[w[0]])), o).unwrap()
    };
    gradcheck_layer(
        &c(
            &[4, 2, 3, 2],
            true,
            ConvOptions::new()
                .stride((2, 1))
                .padding((1, 0))
                .dilation((1, 2))
                .groups(2),
        ),
        &[2, 4, 7, 6],
    );
    gradcheck_layer(
        &c(
            &[3, 1, 3, 3],
            false,
            ConvOptions::new().groups(3).padding(1),
        ),
        &[1, 3, 5, 5],
    ); // depthwise
    gradcheck_layer(
        &c(
            &[2, 3, 4, 3],
            true,
            ConvOptions::new().padding(Padding::Same),
        ),
        &[1, 3, 5, 6],
    );
    let c1 = Conv1d::from_weights(
        randn64(&[4, 1, 3]),
        Some(randn64(&[4])),
        ConvOptions::new().stride(2).padding(1).groups(2),
    )
    .unwrap();
    gradcheck_layer(&c1, &[2, 2, 7]);
    let c1s = Conv1d::from_weights(
        randn64(&[2, 3, 2]),
        None,
        ConvOptions::new().padding(Padding::Same).dilation(3),
    )
    .unwrap();
    gradcheck_layer(&c1s, &[1, 3, 6]);
    let t2 = ConvTranspose2d::from_weights(
        randn64(&[4, 1, 3, 2]),
        Some(randn64(&[2])),
        ConvTransposeOptions::new()
            .stride(2)
            .padding(1)
            .output_padding(1)
            .groups(2),
    )
    .unwrap();
    gradcheck_layer(&t2, &[2, 4, 3, 4]);
    let t1 = ConvTranspose1d::from_weights(
        randn64(&[3, 2, 3]),
        Some(randn64(&[2])),
        ConvTransposeOptions::new().stride(2),
    )
    .unwrap();
    gradcheck_layer(&t1, &[2, 3, 4]);
}

#[test]
fn pooling_layers_gradcheck() {
    let p2 = strata_core::MaxPool2dParams {
        stride: (1, 2),
        padding: (1, 1),
        ..strata_core::MaxPool2dParams::new(3)
    };
    gradcheck_layer(&MaxPool2d::with_params(p2).unwrap(), &[2, 2, 5, 6]);
    let a2 = strata_core::AvgPool2dParams {
        stride: (2, 1),
        padding: (1, 0),
        count_include_pad: false,
        ..strata_core::AvgPool2dParams::new(2)
    };
    gradcheck_layer(&AvgPool2d::with_params(a2).unwrap(), &[2, 2, 5, 6]);
    gradcheck_layer(
        &MaxPool1d::with_params(MaxPool1dParams {
            stride: 1,
            dilation: 2,
            ..MaxPool1dParams::new(2)
        })
        .unwrap(),
        &[2, 3, 7],
    );
    gradcheck_layer(&AvgPool1d::new(3).unwrap(), &[2, 3, 7]);
    gradcheck_layer(&AdaptiveAvgPool2d::new((2, 3)).unwrap(), &[2, 2, 5, 7]);
    gradcheck_layer(&GlobalAvgPool2d::new(), &[2, 3, 4, 5]);
}

#[test]
fn conv_transpose_is_the_adjoint_of_conv() {
    // <convT(x; w), y> = <x, conv(y; w)> for the same weight and geometry.
    let w = randn64(&[3, 4, 3, 3]); // ConvTranspose2d(3 -> 4) and Conv2d(4 -> 3)
    let t = ConvTranspose2d::from_weights(
        w.clone(),
        None,
        ConvTransposeOptions::new().stride(2).padding(1),
    )
    .unwrap();
    let c = Conv2d::from_weights(w, None, ConvOptions::new().stride(2).padding(1)).unwrap();
    let x = randn64(&[2, 3, 4, 5]);
    let tx = t.forward(&x).unwrap();
    assert_eq!(tx.shape(), &[2, 4, 7, 9]);
    let y = randn64(tx.shape());
    let lhs = tx.mul(&y).unwrap().sum_all().unwrap().item().unwrap();
    let rhs = x
        .mul(&c.forward(&y).unwrap())
        .unwrap()
        .sum_all()
        .unwrap()
        .item()
        .unwrap();
    assert!(
        (lhs - rhs).abs() < 1e-9 * (1.0 + lhs.abs()),
        "{lhs} vs {rhs}"
    );
}

#[test]
fn default_init_and_names_follow_pytorch() {
    // Bound 1/sqrt(fan_in) with fan_in = in/groups * kh * kw; uniform so std = bound/sqrt(3).
    let check = |w: &Tensor, fan_in: usize, what: &str| {
        let v = w.to_vec_f64();
        let bound = 1.0 / (fan_in as f64).sqrt();
        assert!(
            v.iter().all(|x| x.abs() <= bound),
            "{what}: outside ±{bound}"
        );
        let std = (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt();
        assert!(
            (std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.05,
            "{what}: std {std}"
        );
    };
    let c = Conv2d::with_options(16, 64, (3, 5), ConvOptions::new().groups(4)).unwrap();
    assert_eq!(c.weight().shape(), &[64, 4, 3, 5]);
    check(c.weight(), 4 * 15, "conv2d weight");
    let bias = c.bias().unwrap().to_vec_f64();
    assert!(bias.iter().all(|b| b.abs() <= 1.0 / 60f64.sqrt()));
    let names: Vec<String> = c.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    let t =
        ConvTranspose2d::with_options(32, 48, 3, ConvTransposeOptions::new().groups(2)).unwrap();
    assert_eq!(t.weight().shape(), &[32, 24, 3, 3]);
    check(t.weight(), 24 * 9, "conv_transpose2d weight"); // PyTorch's fan_in of [in, out/g, k, k]
    let c1 = Conv1d::with_options(8, 300, 5, ConvOptions::new().bias(false)).unwrap();
    assert!(c1.bias().is_none());
    assert_eq!(c1.named_parameters().len(), 1);
    check(c1.weight(), 40, "conv1d weight");
    assert_eq!(
        ConvTranspose1d::new(2, 3, 4).unwrap().weight().shape(),
        &[2, 3, 4]
    );
    // A state dict with PyTorch's names and shapes loads strictly.
    let sd = vec![
        ("weight".to_string(), Tensor::zeros(&[64, 4, 3, 5])),
        ("bias".to_string(), Tensor::ones(&[64])),
    ];
    c.load_state_dict(&sd, true).unwrap();
    assert_eq!(c.bias().unwrap().to_vec::<f32>().unwrap(), vec![1.0; 64]);
}

#[test]
fn configuration_errors_are_reported_not_panics() {
    let err = |r: Result<Conv2d, strata_nn::Error>| r.err().unwrap().to_string();
    let e = err(Conv2d::with_options(3, 4, 3, ConvOptions::new().groups(2)));
    assert!(
        e.contains("groups = 2 must be positive and divide in_channels = 3"),
        "{e}"
    );
    assert!(
        err(Conv2d::with_options(4, 4, 3, ConvOptions::new().groups(0))).contains("groups = 0")
    );
    assert!(err(Conv2d::new(0, 4, 3)).contains("must be positive"));
    assert!(err(Conv2d::new(3, 4, (0, 3))).contains("kernel size must be positive"));
    assert!(err(Conv2d::with_options(
        3,
        4,
        3,
        ConvOptions::new().stride((1, 0))
    ))
    .contains("must be at least 1"));
    assert!(err(Conv2d::with_options(
        3,
        4,
        3,
        ConvOptions::new().dilation(0)
    ))
    .contains("must be at least 1"));
    assert!(err(Conv2d::from_weights(
        Tensor::zeros(&[4, 3, 3]),
        None,
        ConvOptions::new()
    ))
    .contains("weight must be"));
    assert!(err(Conv2d::from_weights(
        Tensor::zeros(&[4, 3, 3, 3]),
        Some(Tensor::zeros(&[3])),
        ConvOptions::new()
    ))
    .contains("bias must have shape [4]"));
    assert!(Conv1d::with_options(3, 4, 3, ConvOptions::new().stride((1, 2))).is_err());
    assert!(Conv1d::new(3, 4, 0).is_err());
    let t = ConvTransposeOptions::new().stride(2).output_padding(2);
    let e = ConvTranspose2d::with_options(3, 4, 3, t)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("output_padding (2, 2) must be smaller"), "{e}");
    assert!(ConvTranspose2d::with_options(3, 4, 3, ConvTransposeOptions::new().groups(2)).is_err());
    assert!(
        ConvTranspose1d::with_options(3, 4, 3, ConvTransposeOptions::new().padding((0, 1)))
            .is_err()
    );
    let mp = |k, p| strata_core::MaxPool2dParams {
        padding: (p, p),
        ..strata_core::MaxPool2dParams::new(k)
    };
    let e = MaxPool2d::with_params(mp(2, 2)).err().unwrap().to_string();
    assert!(
        e.contains("padding 2 must be at most half the kernel size 2"),
        "{e}"
    );
    assert!(MaxPool2d::new(0).is_err());
    assert!(AvgPool2d::new(0).is_err());
    assert!(MaxPool1d::new(0).is_err());
    assert!(AvgPool1d::with_params(strata_core::AvgPool1dParams {
        stride: 0,
        ..strata_core::AvgPool1dParams::new(2)
    })
    .is_err());
    assert!(AdaptiveAvgPool2d::new((0, 1)).is_err());
}

#[test]
fn input_errors_name_the_layer_and_the_shape() {
    let c = Conv2d::with_options(3, 8, 3, ConvOptions::new().padding(1)).unwrap();
    let e = c
        .forward(&Tensor::zeros(&[2, 4, 5, 5]))
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("Conv2d(3, 8, kernel_size=(3, 3)"), "{e}");
    assert!(
        e.ends_with("expected input [N, 3, H, W] or [3, H, W], got input of shape [2, 4, 5, 5]"),
        "{e}"
    );
    assert!(c.forward(&Tensor::zeros(&[3, 5])).is_err());
    // Unbatched input works.
    assert_eq!(
        c.forward(&Tensor::zeros(&[3, 5, 5])).unwrap().shape(),
        &[8, 5, 5]
    );
    // A kernel larger than the input is the core op's error, passed through.
    assert!(Conv2d::new(3, 8, 7)
        .unwrap()
        .forward(&Tensor::zeros(&[1, 3, 5, 5]))
        .is_err());
    let c1 = Conv1d::new(2, 4, 3).unwrap();
    assert!(c1.forward(&Tensor::zeros(&[1, 3, 8])).is_err());
    assert_eq!(
        c1.forward(&Tensor::zeros(&[2, 8])).unwrap().shape(),
        &[4, 6]
    );
    let t = ConvTranspose2d::new(4, 2, 3).unwrap();
    let e = t
        .forward(&Tensor::zeros(&[1, 3, 5, 5]))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("expected input [N, 4, H, W] or [4, H, W], got input of shape [1, 3, 5, 5]"),
        "{e}"
    );
    assert!(ConvTranspose1d::new(4, 2, 3)
        .unwrap()
        .forward(&Tensor::zeros(&[1, 4]))
        .is_err());
    assert!(MaxPool2d::new(2)
        .unwrap()
        .forward(&Tensor::zeros(&[4]))
        .is_err());
    assert!(AvgPool2d::new(3)
        .unwrap()
        .forward(&Tensor::zeros(&[1, 1, 2, 2]))
        .is_err());
    assert!(GlobalAvgPool2d::new()
        .forward(&Tensor::zeros(&[3, 4]))
        .is_err());
}
