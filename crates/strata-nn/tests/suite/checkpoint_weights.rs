//! Model weights in `.safetensors` files: PyTorch interop (fixture `mlp_sgd_3_steps`),
//! round trips, dtype rules, strict and non-strict loading, prefixes, and bad files.

use proptest::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};
use strata_core::{DType, Tensor};
use strata_nn::checkpoint::{
    load_safetensors, load_safetensors_bytes, load_weights, read_safetensors, rename_prefix,
    save_safetensors, to_safetensors_bytes, write_safetensors, TrainingCheckpoint,
};
use strata_nn::optim::{Optimizer, SGD};
use strata_nn::{BatchNorm1d, Error, Forward, Linear, ModuleExt, ReLU, Sequential, Tanh};
use strata_testutil::{assert_close_f32, assert_close_f64, Fixture};

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-ckpt-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn mlp(dtype: DType) -> Sequential {
    let linear = |i, o| {
        let l = Linear::new(i, o).unwrap();
        let w = l.weight().to_dtype(dtype).copy();
        let b = l.bias().unwrap().to_dtype(dtype).copy();
        Linear::from_weights(w, Some(b)).unwrap()
    };
    Sequential::new()
        .push(linear(4, 8))
        .push(ReLU::new())
        .push(linear(8, 8))
        .push(Tanh::new())
        .push(linear(8, 3))
}

/// The fixture's initial parameters (`param.<name>`) written as a PyTorch-style
/// `state_dict` file (`0.weight`, ...), loaded strictly into a fresh model, then trained
/// 3 SGD steps: losses and final weights match PyTorch.
#[test]
fn pytorch_state_dict_file_loads_and_trains_like_pytorch() {
    let fx = Fixture::load("mlp_sgd_3_steps");
    let dir = scratch("pytorch");
    let path = dir.join("pytorch_mlp.safetensors");
    let names = [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias",
    ];
    // The fixture holds f64; a PyTorch f32 model would save f32. Write both and load each
    // into a model of each dtype (f64 → f32 rounds; f32 → f64 is exact).
    for file_dtype in [DType::F64, DType::F32] {
        let entries: Vec<(String, Tensor)> = names
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    fx.get(&format!("param.{n}")).to_dtype(file_dtype),
                )
            })
            .collect();
        write_safetensors(&entries, &path).unwrap();
        for dtype in [DType::F64, DType::F32] {
            let model = mlp(dtype);
            let report = load_safetensors(&model, &path, true).unwrap();
            assert_eq!(report.loaded, names);
            for (name, t) in model.state_dict() {
                assert_eq!(t.dtype(), dtype, "{name} keeps the model's dtype");
            }
            let mut opt = SGD::new(model.parameters(), fx.cfg_f64("lr"))
                .unwrap()
                .momentum(fx.cfg_f64("momentum"))
                .unwrap();
            let x = fx.get("input").to_dtype(dtype);
            let target = fx.get("target");
            let mut losses = Vec::new();
            for _ in 0..3 {
                let loss = strata_nn::cross_entropy(&model.forward(&x).unwrap(), &target).unwrap();
                losses.push(loss.item().unwrap());
                opt.step(&loss.backward().unwrap()).unwrap();
            }
            // f64 all the way matches to 1e-9; anything through f32 to f32 tolerance.
            let check = if dtype == DType::F64 && file_dtype == DType::F64 {
                assert_close_f64
            } else {
                assert_close_f32
            };
            let what = format!("file {file_dtype}, model {dtype}");
            check(
                &Tensor::from_vec(losses, &[3]).unwrap(),
                &fx.get("losses"),
                &format!("losses, {what}"),
            );
            for (name, t) in model.state_dict() {
                check(
                    &t,
                    &fx.get(&format!("final.{name}")),
                    &format!("{name}, {what}"),
                );
            }
        }
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn round_trip_gives_identical_outputs_and_bits() {
    let dir = scratch("roundtrip");
    let path = dir.join("mlp.safetensors");
    for dtype in [DType::F32, DType::F64] {
        let trained = mlp(dtype);
        save_safetensors(&trained, &path).unwrap();
        let fresh = mlp(dtype);
        let x = Tensor::randn(&[6, 4]).to_dtype(dtype);
        let before = fresh.forward(&x).unwrap().to_vec_f64();
        assert_ne!(before, trained.forward(&x).unwrap().to_vec_f64());
        load_safetensors(&fresh, &path, true).unwrap();
        assert_eq!(
            fresh.forward(&x).unwrap().to_vec_f64(),
            trained.forward(&x).unwrap().to_vec_f64()
        );
        for ((n1, a), (n2, b)) in trained.state_dict().iter().zip(fresh.state_dict().iter()) {
            assert_eq!(n1, n2);
            assert_eq!(a.dtype(), b.dtype());
            let bits = |t: &Tensor| {
                t.to_vec_f64()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(a), bits(b), "{n1}");
        }
        // The bytes variants agree with the file variants.
        let bytes = to_safetensors_bytes(&trained).unwrap();
        assert_eq!(bytes, fs::read(&path).unwrap());
        load_safetensors_bytes(&mlp(dtype), &bytes, true).unwrap();
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn batch_norm_buffers_round_trip_including_the_i64_counter() {
    let bn = BatchNorm1d::new(3).unwrap();
    bn.train();
    for _ in 0..4 {
        bn.forward(&Tensor::randn(&[5, 3])).unwrap();
    }
    let bytes = to_safetensors_bytes(&bn).unwrap();
    let fresh = BatchNorm1d::new(3).unwrap();
    load_safetensors_bytes(&fresh, &bytes, true).unwrap();
    let sd: Vec<(String, Tensor)> = fresh.state_dict();
    let count = sd.iter().find(|(n, _)| n == "num_batches_tracked").unwrap();
    assert_eq!(count.1.dtype(), DType::I64);
    assert_eq!(count.1.to_vec::<i64>().unwrap(), vec![4]);
    let mean = |m: &BatchNorm1d| {
        m.state_dict()
            .into_iter()
            .find(|(n, _)| n == "running_mean")
            .unwrap()
            .1
            .to_vec::<f32>()
            .unwrap()
    };
    assert_eq!(mean(&bn), mean(&fresh));
    assert!(mean(&fresh).iter().any(|&v| v != 0.0));
}

#[test]
fn a_float_file_cannot_fill_an_integer_buffer_and_nothing_loads() {
    let bn = BatchNorm1d::new(2).unwrap();
    let entries: Vec<(String, Tensor)> = bn
        .state_dict()
        .into_iter()
        .map(|(n, t)| (n, t.to_dtype(DType::F64).add_scalar(1.0).unwrap()))
        .collect();
    let dir = scratch("dtype");
    let path = dir.join("bn.safetensors");
    write_safetensors(&entries, &path).unwrap();
    let fresh = BatchNorm1d::new(2).unwrap();
    let err = load_safetensors(&fresh, &path, true).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err:?}");
    assert!(msg.contains("bn.safetensors"), "{msg}");
    assert!(
        msg.contains("num_batches_tracked: the model has i64, the checkpoint f64"),
        "{msg}"
    );
    // Nothing was loaded, not even the convertible float entries.
    let weight = fresh
        .state_dict()
        .into_iter()
        .find(|(n, _)| n == "weight")
        .unwrap()
        .1;
    assert_eq!(weight.to_vec::<f32>().unwrap(), vec![1.0, 1.0]);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn strict_loading_reports_every_problem_at_once_and_non_strict_loads_the_rest() {
    let src = Sequential::new()
        .push(Linear::new(4, 8).unwrap())
        .push(ReLU::new())
        .push(Linear::new(8, 5).unwrap());
    let mut entries = src.state_dict();
    entries.retain(|(n, _)| n != "0.bias");
    entries.push(("extra.weight".into(), Tensor::zeros(&[2])));
    let target = mlp(DType::F32); // 2.weight is [8, 8] here, [5, 8] in the entries
    let before = target.state_dict()[0].1.to_vec::<f32>().unwrap();
    let err = load_weights(&target, &entries, true).unwrap_err();
    let Error::StateDict(problems) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(problems.missing, ["0.bias", "4.weight", "4.bias"]);
    assert_eq!(problems.unexpected, ["extra.weight"]);
    assert_eq!(problems.mismatched.len(), 2, "{problems:?}");
    assert!(err
        .to_string()
        .contains("2.weight: model has [8, 8], checkpoint has [5, 8]"));
    assert_eq!(target.state_dict()[0].1.to_vec::<f32>().unwrap(), before);

    let report = load_weights(&target, &entries, false).unwrap();
    assert_eq!(report.loaded, ["0.weight"]);
    assert_eq!(report.problems, problems.clone());
    assert_eq!(
        target.state_dict()[0].1.to_vec::<f32>().unwrap(),
        src.state_dict()[0].1.to_vec::<f32>().unwrap()
    );
}

#[test]
fn prefixes_select_rename_and_add() {
    let encoder = Linear::new(3, 4).unwrap();
    let head = Linear::new(4, 2).unwrap();
    // A "whole model" checkpoint with encoder.* and head.* keys.
    let mut entries = rename_prefix(&encoder.state_dict(), "", "encoder.");
    entries.extend(rename_prefix(&head.state_dict(), "", "head."));
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["encoder.weight", "encoder.bias", "head.weight", "head.bias"]
    );
    let dir = scratch("prefix");
    let path = dir.join("whole.safetensors");
    write_safetensors(&entries, &path).unwrap();
    let fresh = Linear::new(3, 4).unwrap();
    let only_encoder = rename_prefix(&read_safetensors(&path).unwrap(), "encoder.", "");
    let report = load_weights(&fresh, &only_encoder, true).unwrap();
    assert_eq!(report.loaded, ["weight", "bias"]);
    assert_eq!(
        fresh.weight().to_vec::<f32>().unwrap(),
        encoder.weight().to_vec::<f32>().unwrap()
    );
    fs::remove_dir_all(&dir).unwrap();
}

// ---- bad input -------------------------------------------------------------------------

/// A safetensors file from a hand-written header (so it can lie) and data bytes.
fn raw_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn checkpoint_error(err: &Error, path: &Path) -> String {
    match err {
        Error::Checkpoint { path: p, reason } => {
            assert_eq!(p, path);
            reason.clone()
        }
        other => panic!("expected Error::Checkpoint, got {other:?}"),
    }
}

#[test]
fn bad_files_are_checkpoint_errors_naming_the_file_and_the_problem() {
    let dir = scratch("bad");
    let model = Linear::new(2, 2).unwrap();
    let good = to_safetensors_bytes(&model).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "not a valid safetensors file"),
        (
            "truncated",
            good[..good.len() - 3].to_vec(),
            "not a valid safetensors file",
        ),
        (
            "random",
            (0..200u32).map(|i| (i * 7919 % 251) as u8).collect(),
            "not a valid",
        ),
        (
            "lying_offsets",
            raw_file(
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,100]}}"#,
                &[0; 8],
            ),
            "not a valid safetensors file",
        ),
        (
            "shape_vs_bytes",
            raw_file(
                r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                &[0; 8],
            ),
            "not a valid safetensors file",
        ),
        (
            "f16",
            raw_file(
                r#"{"weight":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ),
            "tensor \"weight\" has dtype F16; Strata reads F32, F64, I64 and BOOL",
        ),
        (
            "bad_bool",
            raw_file(
                r#"{"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}"#,
                &[1, 7],
            ),
            "holds the byte 7",
        ),
        (
            "huge_header_len",
            u64::MAX.to_le_bytes().to_vec(),
            "not a valid safetensors file",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = dir.join(format!("{name}.safetensors"));
        fs::write(&path, &bytes).unwrap();
        let err = load_safetensors(&model, &path, false).unwrap_err();
        let reason = checkpoint_error(&err, &path);
        assert!(reason.contains(want), "{name}: {reason}");
        assert!(
            err.to_string().contains(&format!("{name}.safetensors")),
            "{err}"
        );
        let err = TrainingCheckpoint::load(&path).unwrap_err();
        checkpoint_error(&err, &path);
    }
    // A missing file.
    let path = dir.join("does_not_exist.safetensors");
    let reason = checkpoint_error(&load_safetensors(&model, &path, true).unwrap_err(), &path);
    assert!(reason.contains("cannot read the file"), "{reason}");
    checkpoint_error(&TrainingCheckpoint::load(&path).unwrap_err(), &path);
    // A valid weights file is not a training checkpoint.
    let path = dir.join("weights_only.safetensors");
    fs::write(&path, &good).unwrap();
    let reason = checkpoint_error(&TrainingCheckpoint::load(&path).unwrap_err(), &path);
    assert!(
        reason.contains("not a Strata training checkpoint"),
        "{reason}"
    );
    // Missing keys in a file: a typed mismatch naming the file.
    let path = dir.join("half.safetensors");
    write_safetensors(&model.state_dict()[..1], &path).unwrap();
    match load_safetensors(&model, &path, true).unwrap_err() {
        Error::CheckpointMismatch { path: p, problems } => {
            assert_eq!(p, path);
            assert_eq!(problems.missing, ["bias"]);
        }
        other => panic!("{other:?}"),
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failed_save_leaves_the_existing_checkpoint_intact() {
    let dir = scratch("failedsave");
    let model = Linear::new(3, 3).unwrap();
    // Target directory missing: an error naming the path, nothing created.
    let missing = dir.join("gone").join("w.safetensors");
    let err = save_safetensors(&model, &missing).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("gone"),
        "{err}"
    );
    assert!(!dir.join("gone").exists());

    // Read-only directory holding a good checkpoint.
    let ro = dir.join("ro");
    fs::create_dir_all(&ro).unwrap();
    let path = ro.join("w.safetensors");
    save_safetensors(&model, &path).unwrap();
    let good = fs::read(&path).unwrap();
    set_read_only(&ro, true);
    let other = Linear::new(3, 3).unwrap();
    let result = save_safetensors(&other, &path);
    let privileged = result.is_ok(); // root ignores directory permissions
    set_read_only(&ro, false);
    if privileged {
        eprintln!("running with privileges that ignore read-only directories: skipped");
    } else {
        assert!(matches!(result, Err(Error::Io { .. })), "{result:?}");
        assert_eq!(fs::read(&path).unwrap(), good);
        let names: Vec<_> = fs::read_dir(&ro)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
fn set_read_only(dir: &Path, ro: bool) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        dir,
        fs::Permissions::from_mode(if ro { 0o555 } else { 0o755 }),
    )
    .unwrap();
}

#[cfg(not(unix))]
fn set_read_only(dir: &Path, ro: bool) {
    let mut p = fs::metadata(dir).unwrap().permissions();
    p.set_readonly(ro);
    fs::set_permissions(dir, p).unwrap();
}

/// A valid training checkpoint's bytes (weights, SGD momentum state, RNG).
fn valid_training_bytes() -> Vec<u8> {
    let model = mlp(DType::F32);
    let mut opt = SGD::new(model.parameters(), 0.1)
        .unwrap()
        .momentum(0.9)
        .unwrap();
    let x = Tensor::randn(&[3, 4]);
    let loss = model
        .forward(&x)
        .unwrap()
        .square()
        .unwrap()
        .mean_all()
        .unwrap();
    opt.step(&loss.backward().unwrap()).unwrap();
    let mut ckpt = TrainingCheckpoint::capture(&model, &opt, None, 1, 1);
    ckpt.metadata.insert("note".into(), "fuzz".into());
    ckpt.to_bytes().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random bytes never panic the loaders; they are rejected (or, by astronomic luck,
    /// parsed).
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let model = Linear::new(2, 2).unwrap();
        let _ = load_safetensors_bytes(&model, &bytes, false);
        let _ = TrainingCheckpoint::from_bytes(&bytes);
    }

    /// Every strict prefix of a valid checkpoint is an error, and corrupting one byte
    /// never panics.
    #[test]
    fn truncated_or_corrupted_checkpoints_are_errors(cut in 0.0f64..1.0, flip in any::<(usize, u8)>()) {
        let bytes = valid_training_bytes();
        let n = ((bytes.len() as f64) * cut) as usize;
        prop_assert!(n < bytes.len());
        let err = TrainingCheckpoint::from_bytes(&bytes[..n]).unwrap_err();
        let is_checkpoint_error = matches!(err, Error::Checkpoint { .. });
        prop_assert!(is_checkpoint_error);
        let model = mlp(DType::F32);
        prop_assert!(load_safetensors_bytes(&model, &bytes[..n], false).is_err());
        let mut corrupted = bytes.clone();
        let i = flip.0 % corrupted.len();
        corrupted[i] ^= flip.1.max(1);
        let _ = TrainingCheckpoint::from_bytes(&corrupted);
        let _ = load_safetensors_bytes(&model, &corrupted, false);
    }
}
