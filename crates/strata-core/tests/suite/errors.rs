//! Every kind of user error in strata-core comes back as the right `Error` variant with a
//! message that names the op, the shapes (or dims, dtypes, indices) and what was expected.
//! One test per kind; the unit tests beside each op cover the remaining cases.

use strata_core::{DType, Error, ShapeDisplay, Tensor};

fn zeros(shape: &[usize]) -> Tensor {
    Tensor::zeros(shape)
}

fn ids(v: &[i64]) -> Tensor {
    Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
}

#[test]
fn matmul_inner_dimensions() {
    let err = zeros(&[2, 3, 4]).matmul(&zeros(&[5, 6])).unwrap_err();
    assert!(matches!(err, Error::MatmulShape { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "matmul: cannot multiply [2, 3, 4] by [5, 6]: inner dimensions 4 and 5 differ"
    );
}

#[test]
fn broadcast_shapes() {
    let err = zeros(&[4, 3]).maximum(&zeros(&[2, 1, 5])).unwrap_err();
    assert_eq!(
        err,
        Error::Broadcast {
            op: "maximum",
            lhs: ShapeDisplay(vec![4, 3]),
            rhs: ShapeDisplay(vec![2, 1, 5]),
            dim: 2,
            lhs_size: 3,
            rhs_size: 5,
        }
    );
    assert!(err
        .to_string()
        .contains("[4, 3] and [2, 1, 5] cannot be broadcast"));
}

#[test]
fn cat_shapes_name_the_tensor_and_both_shapes() {
    let pieces = [zeros(&[2, 3]), zeros(&[5, 3]), zeros(&[1, 4])];
    let err = Tensor::cat(&pieces, 0).unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { op: "cat", .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "cat: shapes [2, 3] and [1, 4] differ: tensor 2 differs from tensor 0 in dimension 1 \
         (only dimension 0, the one joined along, may differ)"
    );
}

#[test]
fn dimension_out_of_range() {
    let err = zeros(&[2, 3]).softmax(-3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "softmax: dimension -3 is out of range for a tensor with 2 dimension(s) (valid: -2 to 1)"
    );
    let err = Tensor::stack(&[zeros(&[2])], 2).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DimOutOfRange {
                op: "stack",
                dim: 2,
                ndim: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let err = Tensor::scalar(1.0f32).argmax(0, false).unwrap_err();
    assert!(
        err.to_string().contains("none: the tensor is a scalar"),
        "{err}"
    );
}

#[test]
fn unsupported_dtype() {
    let labels = ids(&[0, 1]);
    let err = labels.log_softmax(0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "log_softmax: expected dtype a floating-point dtype (f32 or f64), got i64"
    );
    let mask = Tensor::from_vec(vec![true, false], &[2]).unwrap();
    let err = mask.max(0, false).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DType {
                op: "max",
                got: DType::Bool,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn mismatched_dtypes() {
    let a = zeros(&[2]);
    let b = Tensor::zeros_dtype(&[2], DType::F64);
    let err = a.matmul(&b).unwrap_err();
    assert_eq!(
        err,
        Error::DTypeMismatch {
            op: "matmul",
            lhs: DType::F32,
            rhs: DType::F64
        }
    );
    let err = Tensor::cat(&[&a, &b], 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cat: expected dtype f32 for tensor 1 (the dtype of tensor 0), got f64"
    );
}

#[test]
fn index_out_of_range_names_op_index_dim_and_size() {
    let table = zeros(&[10, 4]);
    let err = table.index_select(0, &ids(&[3, 10, 2])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "index_select: index 10 is out of range for dimension 0 of size 10"
    );
    let err = table
        .gather(1, &Tensor::from_vec(vec![0i64, -1], &[1, 2]).unwrap())
        .unwrap_err();
    assert_eq!(
        err,
        Error::IndexOutOfRange {
            op: "gather",
            index: -1,
            dim: 1,
            size: 4
        }
    );
    let err = table.select(1, 4).unwrap_err();
    assert!(
        matches!(err, Error::IndexOutOfRange { op: "select", .. }),
        "{err:?}"
    );
}

#[test]
fn index_tensor_of_the_wrong_dtype() {
    let x = zeros(&[3, 4]);
    let float_index = Tensor::zeros(&[3, 1]);
    let err = x.gather(1, &float_index).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gather: expected dtype i64 indices, got f32"
    );
    assert!(matches!(
        x.index_select(0, &float_index.reshape(&[3]).unwrap()),
        Err(Error::DType {
            op: "index_select",
            got: DType::F32,
            ..
        })
    ));
    assert!(matches!(
        Tensor::zeros(&[2]).one_hot(3),
        Err(Error::DType { op: "one_hot", .. })
    ));
}

#[test]
fn index_of_the_wrong_shape() {
    let x = zeros(&[3, 4]);
    let err = x.gather(0, &ids(&[0, 1])).unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { op: "gather", .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("the index has 1 dimension(s) but self has 2"),
        "{err}"
    );
    let err = x
        .scatter_add(
            0,
            &Tensor::zeros_dtype(&[1, 5], DType::I64),
            &zeros(&[1, 5]),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("larger than self in dimension 1 (5 > 4)"),
        "{err}"
    );
}

#[test]
fn reshape_element_count() {
    let err = zeros(&[2, 3]).reshape(&[4, 2]).unwrap_err();
    assert!(matches!(err, Error::Shape { op: "reshape", .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "reshape: got shape [2, 3], cannot reshape 6 elements into [4, 2] (8 elements)"
    );
    let err = Tensor::from_vec(vec![1.0f32; 5], &[2, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_vec: 5 element(s) cannot fill shape [2, 3] (6 elements)"
    );
}

#[test]
fn reductions_over_empty_dimensions() {
    let e = zeros(&[3, 0]);
    let err = e.max(1, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max: got shape [3, 0], cannot reduce over dimension 1, which has size 0"
    );
    assert!(matches!(
        e.argmin(-1, true),
        Err(Error::Shape { op: "argmin", .. })
    ));
    assert!(matches!(
        e.mean(&[1], false),
        Err(Error::Shape { op: "mean", .. })
    ));
    assert!(matches!(
        e.var(&[1], 1, false),
        Err(Error::Shape { op: "var", .. })
    ));
    // A sum over nothing is 0, not an error.
    assert_eq!(
        e.sum(&[1], false).unwrap().to_vec::<f32>().unwrap(),
        vec![0.0; 3]
    );
}

#[test]
fn invalid_arguments() {
    let x = zeros(&[2, 5]);
    let err = x.split_sizes(&[2, 2], 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "split_sizes: invalid argument `sizes`: [2, 2] add up to 4, but dimension 1 has size 5 \
         (shape [2, 5])"
    );
    let none: &[Tensor] = &[];
    let err = Tensor::cat(none, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cat: invalid argument `tensors`: needs at least one tensor, got none"
    );
    assert!(matches!(
        x.chunk(0, 0),
        Err(Error::InvalidArgument {
            op: "chunk",
            arg: "chunks",
            ..
        })
    ));
}

#[test]
fn backward_misuse() {
    let w = zeros(&[3]).requires_grad_();
    let err = w.softmax(0).unwrap().backward().unwrap_err();
    assert!(matches!(err, Error::Backward(_)), "{err:?}");
    assert!(err.to_string().contains("one element"), "{err}");
    let y = w.logsumexp(&[0], false).unwrap();
    let err = y.backward_with(&zeros(&[3])).unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { op: "backward", .. }),
        "{err:?}"
    );
}
