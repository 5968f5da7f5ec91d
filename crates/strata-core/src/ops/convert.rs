//! Conversions between dtypes.

use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::map::map1;
use crate::storage::{with_slice, StorageData};
use crate::{DType, Element, Result, Tensor};

fn convert<T: Element>(src: &[T], t: &Tensor, to: DType) -> StorageData {
    let l = t.layout();
    match to {
        DType::F32 => StorageData::F32(map1(src, l, |v| v.to_f64() as f32)),
        DType::F64 => StorageData::F64(map1(src, l, |v| v.to_f64())),
        DType::I64 => StorageData::I64(map1(src, l, |v| v.to_f64() as i64)),
        DType::Bool => StorageData::Bool(map1(src, l, |v| v.to_f64() != 0.0)),
    }
}

impl Tensor {
    /// The same values as another dtype (a copy; the same tensor if the dtype already
    /// matches). Floats to integers truncate toward zero; non-zero becomes `true`.
    /// Differentiable between f32 and f64.
    ///
    /// ```
    /// use strata_core::{DType, Tensor};
    /// let x = Tensor::from_vec(vec![1.7f32, -2.5], &[2])?;
    /// assert_eq!(x.to_dtype(DType::I64).to_vec::<i64>()?, vec![1, -2]);
    /// assert_eq!(x.to_dtype(DType::Bool).to_vec::<bool>()?, vec![true, true]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        let data = {
            let d = self.storage_read();
            with_slice!(&*d, s => convert(s, self, dtype))
        };
        let out = Tensor::from_data(data, self.shape());
        if dtype.is_float() && self.dtype().is_float() && needs_grad(&[self]) {
            return out.record(&[self], ToDType);
        }
        out
    }
}

struct ToDType;

impl BackwardOp for ToDType {
    fn name(&self) -> &'static str {
        "to_dtype"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(grad.to_dtype(inputs[0].dtype()))])
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Tensor};

    #[test]
    fn gradient_flows_through_precision_changes() {
        let x = Tensor::from_vec(vec![1.0f32, 2.0], &[2])
            .unwrap()
            .requires_grad_();
        let y = x
            .to_dtype(DType::F64)
            .mul_scalar(3.0)
            .unwrap()
            .sum_all()
            .unwrap();
        let g = y.backward().unwrap();
        let gx = g.get(&x).unwrap();
        assert_eq!(gx.dtype(), DType::F32);
        assert_eq!(gx.to_vec::<f32>().unwrap(), vec![3.0, 3.0]);
    }

    #[test]
    fn bool_to_float_mask() {
        let m = Tensor::from_vec(vec![true, false], &[2]).unwrap();
        assert_eq!(
            m.to_dtype(DType::F32).to_vec::<f32>().unwrap(),
            vec![1.0, 0.0]
        );
    }
}
