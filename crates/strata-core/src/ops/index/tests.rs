//! Values, gradients and errors of the indexing ops.

use crate::{gradcheck, DType, Error, GradcheckOptions, Tensor};

fn ids(v: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64()
}

#[test]
fn index_select_values_on_every_dim_and_views() {
    let x = Tensor::arange(0.0, 24.0, 1.0)
        .unwrap()
        .reshape(&[2, 3, 4])
        .unwrap();
    let i = ids(&[2, 0, 2], &[3]);
    let y = x.index_select(1, &i).unwrap();
    assert_eq!(y.shape(), &[2, 3, 4]);
    let xv = f64s(&x);
    let yv = f64s(&y);
    for a in 0..2 {
        for (j, &r) in [2usize, 0, 2].iter().enumerate() {
            for c in 0..4 {
                assert_eq!(yv[a * 12 + j * 4 + c], xv[a * 12 + r * 4 + c]);
            }
        }
    }
    // Last dim, on a transposed (non-contiguous) source.
    let t = x.transpose(0, 2).unwrap(); // [4, 3, 2]
    let z = t.index_select(-1, &ids(&[1], &[1])).unwrap();
    assert_eq!(z.shape(), &[4, 3, 1]);
    assert_eq!(
        f64s(&z),
        f64s(&x.select(0, 1).unwrap().transpose(0, 1).unwrap())
    );
    // A 0-d index keeps the dim with size 1.
    let one = x
        .index_select(2, &Tensor::from_vec(vec![3i64], &[]).unwrap())
        .unwrap();
    assert_eq!(one.shape(), &[2, 3, 1]);
    assert_eq!(f64s(&one), vec![3.0, 7.0, 11.0, 15.0, 19.0, 23.0]);
    // Empty index list and empty source dims.
    assert_eq!(
        x.index_select(0, &ids(&[], &[0])).unwrap().shape(),
        &[0, 3, 4]
    );
    let e = Tensor::zeros(&[0, 3]);
    assert_eq!(
        e.index_select(1, &ids(&[2], &[1])).unwrap().shape(),
        &[0, 1]
    );
}

#[test]
fn index_select_gradcheck_accumulates_repeats() {
    let opts = GradcheckOptions::default();
    let i = ids(&[1, 3, 1, 0], &[4]);
    gradcheck(
        |t| t[0].index_select(0, &i),
        &[Tensor::randn(&[4, 3])],
        opts,
    )
    .unwrap();
    gradcheck(
        |t| t[0].index_select(1, &i),
        &[Tensor::randn(&[2, 4, 3])],
        opts,
    )
    .unwrap();
    gradcheck(
        |t| t[0].transpose(0, 1)?.index_select(0, &i),
        &[Tensor::randn(&[3, 4])],
        opts,
    )
    .unwrap();
    // Repeated rows: d/dx of sum(index_select) counts each use.
    let x = Tensor::zeros(&[4, 2]).requires_grad_();
    let g = x.index_select(0, &i).unwrap().sum_all().unwrap();
    let g = g.backward().unwrap();
    assert_eq!(
        g.get(&x).unwrap().to_vec::<f32>().unwrap(),
        vec![1.0, 1.0, 2.0, 2.0, 0.0, 0.0, 1.0, 1.0]
    );
}

#[test]
fn index_select_frozen_selects_alike_and_leaves_the_frozen_entry_without_gradient() {
    // Along dim 1 of [2, 4, 3]: two outer blocks, entry 1 frozen and used twice.
    let x = Tensor::randn(&[2, 4, 3]).requires_grad_();
    let i = ids(&[1, 3, 1, 0], &[4]);
    let y = x.index_select_frozen(1, &i, 1).unwrap();
    assert_eq!(f64s(&y), f64s(&x.index_select(1, &i).unwrap()));
    let g = Tensor::arange(1.0, 25.0, 1.0)
        .unwrap()
        .reshape(&[2, 4, 3])
        .unwrap();
    let grads = y.backward_with(&g).unwrap();
    // Block b, entry e: the gradient rows j with i[j] = e, summed; entry 1 stays zero.
    let want: Vec<f64> = (0..2)
        .flat_map(|b| {
            (0..4).flat_map(move |e| {
                (0..3).map(move |c| match e {
                    0 => (b * 12 + 3 * 3 + c + 1) as f64,
                    3 => (b * 12 + 3 + c + 1) as f64,
                    _ => 0.0,
                })
            })
        })
        .collect();
    assert_eq!(f64s(grads.get(&x).unwrap()), want);
    // A frozen entry that is never selected changes nothing; one outside the dim is an error.
    let z = x.index_select_frozen(0, &ids(&[1, 1], &[2]), 0).unwrap();
    let gz = z.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        f64s(gz.get(&x).unwrap()),
        [vec![0.0; 12], vec![2.0; 12]].concat()
    );
    let err = x
        .index_select_frozen(0, &ids(&[1, 0], &[2]), 2)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::IndexOutOfRange {
                op: "index_select",
                index: 2,
                dim: 0,
                size: 2
            }
        ),
        "{err}"
    );
}

#[test]
fn large_index_select_takes_the_parallel_path_correctly() {
    let x = Tensor::randn(&[50, 1024]);
    let i = Tensor::randint(0, 50, &[100]).unwrap();
    let y = x.index_select(0, &i).unwrap();
    let (xv, iv, yv) = (f64s(&x), i.to_vec::<i64>().unwrap(), f64s(&y));
    for (j, &r) in iv.iter().enumerate() {
        assert_eq!(
            yv[j * 1024..(j + 1) * 1024],
            xv[r as usize * 1024..][..1024]
        );
    }
}

#[test]
fn gather_values_and_gradcheck() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let g0 = x.gather(0, &ids(&[1, 0, 1], &[1, 3])).unwrap();
    assert_eq!(f64s(&g0), vec![4.0, 2.0, 6.0]);
    let g1 = x.gather(1, &ids(&[2, 2, 0, 1], &[2, 2])).unwrap();
    assert_eq!(f64s(&g1), vec![3.0, 3.0, 4.0, 5.0]);
    // Works on i64 data and transposed views.
    let xi = ids(&[1, 2, 3, 4], &[2, 2]).transpose(0, 1).unwrap(); // [[1,3],[2,4]]
    assert_eq!(
        xi.gather(1, &ids(&[1, 0], &[2, 1]))
            .unwrap()
            .to_vec::<i64>()
            .unwrap(),
        vec![3, 2]
    );
    let opts = GradcheckOptions::default();
    let idx = ids(&[0, 2, 2, 1, 1, 1], &[2, 3]);
    gradcheck(|t| t[0].gather(1, &idx), &[Tensor::randn(&[2, 4])], opts).unwrap();
    gradcheck(
        |t| t[0].transpose(0, 1)?.gather(1, &idx),
        &[Tensor::randn(&[4, 3])],
        opts,
    )
    .unwrap();
}

#[test]
fn scatter_add_values_and_gradcheck() {
    let x = Tensor::ones_dtype(&[2, 3], DType::F64);
    let idx = ids(&[2, 2, 0, 1], &[2, 2]);
    let src = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    // src is larger than the index: only its leading [2, 2] block is used.
    let y = x.scatter_add(1, &idx, &src).unwrap();
    assert_eq!(f64s(&y), vec![1.0, 1.0, 4.0, 5.0, 6.0, 1.0]);
    assert_eq!(f64s(&x), vec![1.0; 6], "out of place");
    let opts = GradcheckOptions::default();
    gradcheck(
        |t| t[0].scatter_add(1, &idx, &t[1]),
        &[Tensor::randn(&[2, 3]), Tensor::randn(&[2, 3])],
        opts,
    )
    .unwrap();
    gradcheck(
        |t| t[0].scatter_add(0, &ids(&[1, 0, 1], &[3, 1]), &t[1].transpose(0, 1)?),
        &[Tensor::randn(&[2, 2]), Tensor::randn(&[2, 3])],
        opts,
    )
    .unwrap();
    let counts = Tensor::zeros_dtype(&[3], DType::I64)
        .scatter_add(0, &ids(&[2, 2, 1], &[3]), &ids(&[1, 1, 1], &[3]))
        .unwrap();
    assert_eq!(counts.to_vec::<i64>().unwrap(), vec![0, 1, 2]);
}

#[test]
fn one_hot_values() {
    let oh = ids(&[2, 0, 1, 2], &[2, 2]).one_hot(3).unwrap();
    assert_eq!(oh.shape(), &[2, 2, 3]);
    assert_eq!(
        oh.to_vec::<f32>().unwrap(),
        vec![0., 0., 1., 1., 0., 0., 0., 1., 0., 0., 0., 1.]
    );
    assert_eq!(ids(&[], &[0]).one_hot(4).unwrap().shape(), &[0, 4]);
}

#[test]
fn bad_indices_are_errors() {
    let x = Tensor::zeros(&[2, 3]);
    let err = x.index_select(1, &ids(&[0, 3], &[2])).unwrap_err();
    assert_eq!(
        err,
        Error::IndexOutOfRange {
            op: "index_select",
            index: 3,
            dim: 1,
            size: 3
        }
    );
    assert!(matches!(
        x.index_select(0, &ids(&[-1], &[1])),
        Err(Error::IndexOutOfRange { index: -1, .. })
    ));
    assert!(matches!(
        x.gather(0, &ids(&[0, 2], &[1, 2])),
        Err(Error::IndexOutOfRange {
            op: "gather",
            index: 2,
            dim: 0,
            size: 2
        })
    ));
    assert!(matches!(
        x.scatter_add(1, &ids(&[-2], &[1, 1]), &x),
        Err(Error::IndexOutOfRange {
            op: "scatter_add",
            index: -2,
            ..
        })
    ));
    assert!(matches!(
        ids(&[0, 5], &[2]).one_hot(5),
        Err(Error::IndexOutOfRange {
            op: "one_hot",
            index: 5,
            dim: 1,
            size: 5
        })
    ));
    // Wrong index dtype, rank and size.
    assert!(matches!(
        x.index_select(0, &Tensor::zeros(&[1])),
        Err(Error::DType { .. })
    ));
    assert!(matches!(
        x.index_select(0, &ids(&[0], &[1, 1])),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        x.gather(1, &ids(&[0], &[1])),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        x.gather(1, &ids(&[0, 0, 0], &[3, 1])),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        x.scatter_add(
            1,
            &ids(&[0], &[1, 1]),
            &Tensor::zeros_dtype(&[1, 1], DType::F64)
        ),
        Err(Error::DTypeMismatch { .. })
    ));
    assert!(matches!(
        Tensor::zeros(&[2]).one_hot(2),
        Err(Error::DType { .. })
    ));
}
