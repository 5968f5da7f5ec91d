//! Every transform, on images of any size (empty ones included) and with any valid
//! parameters, returns an image of the promised shape or an error, and never panics.

use proptest::prelude::*;
use strata_core::{Generator, Tensor};
use strata_data::transforms::*;

fn image(c: usize, h: usize, w: usize, seed: u64) -> Tensor {
    Tensor::rand_with(
        &mut Generator::new(seed),
        &[c, h, w],
        strata_core::DType::F32,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn shape_preserving_transforms_keep_the_shape(
        c in 0usize..4, h in 0usize..12, w in 0usize..12, seed in any::<u64>(),
        deg in -360.0f64..360.0, tx in 0.0f64..1.0, s_lo in 0.01f64..2.0, s_span in 0.0f64..2.0,
        shear in -89.0f64..89.0, strength in 0.0f64..3.0, p in 0.0f64..=1.0,
    ) {
        let img = image(c, h, w, seed);
        let steps: Vec<Box<dyn Transform>> = vec![
            Box::new(RandomHorizontalFlip::new(p).unwrap()),
            Box::new(RandomVerticalFlip::new(p).unwrap()),
            Box::new(RandomRotation::new(deg.abs()).unwrap()),
            Box::new(RandomAffine::new().rotate(-deg.abs(), deg.abs()).unwrap().translate(tx, tx).unwrap()
                .scale(s_lo, s_lo + s_span).unwrap().shear(shear.min(0.0), shear.max(0.0)).unwrap()),
            Box::new(ColorJitter::new(strength, strength).unwrap()),
            Box::new(GaussianNoise::new(strength).unwrap()),
            Box::new(RandomErasing::new(p).unwrap()),
            Box::new(RandomCrop::new(h.min(w), 1)),
        ];
        for t in &steps {
            let out = t.apply(&img, &mut Generator::new(seed)).unwrap();
            let want = [c, h.min(w), h.min(w)];
            if out.shape() != img.shape() {
                prop_assert_eq!(out.shape(), &want[..]);
            }
            prop_assert!(out.to_vec::<f32>().unwrap().iter().all(|v| v.is_finite()));
        }
        if c > 0 {
            let n = Normalize::new(&vec![0.5; c], &vec![0.25; c]).unwrap();
            let out = n.apply(&img, &mut Generator::new(0)).unwrap();
            prop_assert_eq!(out.shape(), img.shape());
        }
    }

    #[test]
    fn wrong_inputs_are_errors(dims in proptest::collection::vec(0usize..5, 0..5)) {
        let t = Tensor::zeros(&dims);
        let r = RandomCrop::new(1, 0).apply(&t, &mut Generator::new(0));
        if dims.len() != 3 {
            prop_assert!(r.is_err());
        }
        let as_i64 = Tensor::zeros_dtype(&dims, strata_core::DType::I64);
        prop_assert!(RandomHorizontalFlip::new(1.0).unwrap().apply(&as_i64, &mut Generator::new(0)).is_err());
    }
}
