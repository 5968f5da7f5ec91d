//! Comparisons producing boolean masks, logical ops on masks, and `where_` (select by mask).

use super::slice_of;
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::map::{map2, map3};
use crate::layout::broadcast_dims;
use crate::storage::{with_slice, StorageData};
use crate::{DType, Element, Error, Result, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn name(self) -> &'static str {
        match self {
            Cmp::Eq => "eq",
            Cmp::Ne => "ne",
            Cmp::Lt => "lt",
            Cmp::Le => "le",
            Cmp::Gt => "gt",
            Cmp::Ge => "ge",
        }
    }

    #[inline(always)]
    fn apply<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

fn compare(a: &Tensor, b: &Tensor, cmp: Cmp) -> Result<Tensor> {
    let op = cmp.name();
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch {
            op,
            lhs: a.dtype(),
            rhs: b.dtype(),
        });
    }
    let shape = broadcast_dims(op, a.shape(), b.shape())?;
    let sa = a.layout().broadcast_strides(op, &shape)?;
    let sb = b.layout().broadcast_strides(op, &shape)?;
    let (da, db) = (a.storage_read(), b.storage_read());
    let (oa, ob) = (a.layout().offset(), b.layout().offset());
    let v = with_slice!(&*da, xa => {
        let xb = slice_of(&db, op)?;
        map2(xa, &sa, oa, xb, &sb, ob, &shape, |x, y| cmp.apply(x, y))
    });
    Ok(Tensor::from_data(StorageData::Bool(v), &shape))
}

fn compare_scalar(a: &Tensor, value: f64, cmp: Cmp) -> Result<Tensor> {
    let d = a.storage_read();
    let v = with_slice!(&*d, x => {
        let s = from_f64_like(x, value);
        crate::kernels::map::map1(x, a.layout(), |e| cmp.apply(e, s))
    });
    Ok(Tensor::from_data(StorageData::Bool(v), a.shape()))
}

/// Converts `value` to the element type of the slice (type inference helper).
fn from_f64_like<T: Element>(_: &[T], value: f64) -> T {
    T::from_f64(value)
}

fn logical(a: &Tensor, b: &Tensor, op: &'static str, f: fn(bool, bool) -> bool) -> Result<Tensor> {
    for t in [a, b] {
        if t.dtype() != DType::Bool {
            return Err(Error::dtype(op, "bool", t.dtype()));
        }
    }
    let shape = broadcast_dims(op, a.shape(), b.shape())?;
    let sa = a.layout().broadcast_strides(op, &shape)?;
    let sb = b.layout().broadcast_strides(op, &shape)?;
    let (da, db) = (a.storage_read(), b.storage_read());
    let v = map2(
        slice_of::<bool>(&da, op)?,
        &sa,
        a.layout().offset(),
        slice_of::<bool>(&db, op)?,
        &sb,
        b.layout().offset(),
        &shape,
        f,
    );
    Ok(Tensor::from_data(StorageData::Bool(v), &shape))
}

macro_rules! cmp_methods {
    ($($name:ident, $scalar:ident, $variant:ident, $doc:literal;)*) => {$(
        #[doc = concat!("Elementwise `", $doc, "` with broadcasting, as a bool mask.")]
        pub fn $name(&self, other: &Tensor) -> Result<Tensor> {
            compare(self, other, Cmp::$variant)
        }
        #[doc = concat!("Elementwise `", $doc, "` against a scalar, as a bool mask.")]
        pub fn $scalar(&self, value: f64) -> Result<Tensor> {
            compare_scalar(self, value, Cmp::$variant)
        }
    )*};
}

impl Tensor {
    cmp_methods! {
        eq, eq_scalar, Eq, "==";
        ne, ne_scalar, Ne, "!=";
        lt, lt_scalar, Lt, "<";
        le, le_scalar, Le, "<=";
        gt, gt_scalar, Gt, ">";
        ge, ge_scalar, Ge, ">=";
    }

    /// Elementwise AND of two bool masks.
    pub fn logical_and(&self, other: &Tensor) -> Result<Tensor> {
        logical(self, other, "logical_and", |a, b| a && b)
    }

    /// Elementwise OR of two bool masks.
    pub fn logical_or(&self, other: &Tensor) -> Result<Tensor> {
        logical(self, other, "logical_or", |a, b| a || b)
    }

    /// Elementwise NOT of a bool mask.
    pub fn logical_not(&self) -> Result<Tensor> {
        if self.dtype() != DType::Bool {
            return Err(Error::dtype("logical_not", "bool", self.dtype()));
        }
        let d = self.storage_read();
        let v =
            crate::kernels::map::map1(slice_of::<bool>(&d, "logical_not")?, self.layout(), |b| !b);
        Ok(Tensor::from_data(StorageData::Bool(v), self.shape()))
    }

    /// Picks `self` where `condition` is true and `other` elsewhere (all three broadcast).
    /// Differentiable in `self` and `other`.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![-1.0f32, 2.0, -3.0], &[3])?;
    /// let y = x.where_(&x.gt_scalar(0.0)?, &Tensor::zeros(&[1]))?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![0.0, 2.0, 0.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn where_(&self, condition: &Tensor, other: &Tensor) -> Result<Tensor> {
        const OP: &str = "where";
        if condition.dtype() != DType::Bool {
            return Err(Error::dtype(
                OP,
                "a bool condition (from a comparison)",
                condition.dtype(),
            ));
        }
        if self.dtype() != other.dtype() {
            return Err(Error::DTypeMismatch {
                op: OP,
                lhs: self.dtype(),
                rhs: other.dtype(),
            });
        }
        let shape = broadcast_dims(OP, self.shape(), other.shape())?;
        let shape = broadcast_dims(OP, &shape, condition.shape())?;
        let sc = condition.layout().broadcast_strides(OP, &shape)?;
        let sa = self.layout().broadcast_strides(OP, &shape)?;
        let sb = other.layout().broadcast_strides(OP, &shape)?;
        let (dc, da, db) = (
            condition.storage_read(),
            self.storage_read(),
            other.storage_read(),
        );
        let cs = slice_of::<bool>(&dc, OP)?;
        let out_data = with_slice!(&*da, xa => {
            let xb = slice_of(&db, OP)?;
            let v = map3(
                (cs, &sc, condition.layout().offset()),
                (xa, &sa, self.layout().offset()),
                (xb, &sb, other.layout().offset()),
                &shape,
                |c, a, b| if c { a } else { b },
            );
            Element::into_storage(v)
        });
        let out = Tensor::from_data(out_data, &shape);
        if !needs_grad(&[self, other]) {
            return Ok(out);
        }
        Ok(out.record(&[self, other, condition], WhereBackward))
    }

    /// Replaces elements where `mask` is true by `value`.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?;
    /// let m = x.ge_scalar(2.0)?;
    /// assert_eq!(x.masked_fill(&m, -1.0)?.to_vec::<f32>()?, vec![1.0, -1.0, -1.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        let fill = Tensor::full(&[], value, self.dtype());
        fill.where_(mask, self)
    }
}

struct WhereBackward;

impl BackwardOp for WhereBackward {
    fn name(&self) -> &'static str {
        "where"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let (a, b, cond) = (&inputs[0], &inputs[1], &inputs[2]);
        let zero = Tensor::zeros_dtype(&[], grad.dtype());
        let ga = if a.requires_grad() {
            Some(grad.where_(cond, &zero)?.sum_to_shape(a.shape())?)
        } else {
            None
        };
        let gb = if b.requires_grad() {
            Some(zero.where_(cond, grad)?.sum_to_shape(b.shape())?)
        } else {
            None
        };
        Ok(vec![ga, gb, None])
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, GradcheckOptions, Tensor};

    #[test]
    fn comparisons_broadcast_and_produce_bools() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap();
        let b = Tensor::from_vec(vec![2.0f32], &[1]).unwrap();
        assert_eq!(
            a.lt(&b).unwrap().to_vec::<bool>().unwrap(),
            vec![true, false, false]
        );
        assert_eq!(
            a.ge(&b).unwrap().to_vec::<bool>().unwrap(),
            vec![false, true, true]
        );
        assert_eq!(
            a.eq_scalar(3.0).unwrap().to_vec::<bool>().unwrap(),
            vec![false, false, true]
        );
        let i = Tensor::from_vec(vec![1i64, 5], &[2]).unwrap();
        assert_eq!(
            i.ne_scalar(5.0).unwrap().to_vec::<bool>().unwrap(),
            vec![true, false]
        );
        let m = a.gt_scalar(1.5).unwrap();
        assert_eq!(
            m.logical_not().unwrap().to_vec::<bool>().unwrap(),
            vec![true, false, false]
        );
        assert!(a.logical_not().is_err());
    }

    #[test]
    fn where_gradcheck_with_broadcast() {
        let cond = Tensor::randn(&[3, 4]).gt_scalar(0.0).unwrap();
        gradcheck(
            |t| t[0].where_(&cond, &t[1]),
            &[Tensor::randn(&[3, 4]), Tensor::randn(&[4])],
            GradcheckOptions::default(),
        )
        .unwrap();
    }
}
