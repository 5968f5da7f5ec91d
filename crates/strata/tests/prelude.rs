//! A program as a user writes it, with nothing but `strata::prelude::*`: its own modules
//! through `#[derive(Module)]` (this crate's tests reach the derive exactly as a crate that
//! depends only on `strata` does), the convolutional and recurrent layers, checkpoints with
//! partial loading, and the text and time-series datasets.

use strata::prelude::*;

/// A small CNN: the derive names its fields `features.*` and `classifier.*`.
#[derive(Module)]
struct Cnn {
    features: Sequential,
    classifier: Linear,
    #[module(skip)]
    note: &'static str,
}

impl Cnn {
    fn new(classes: usize) -> Result<Cnn, strata::nn::Error> {
        let features = Sequential::new()
            .push(Conv2d::with_options(
                1,
                4,
                3,
                ConvOptions::new().padding(1),
            )?)
            .push(BatchNorm2d::new(4)?)
            .push(ReLU::new())
            .push(MaxPool2d::new(2)?)
            .push(Flatten::new());
        Ok(Cnn {
            features,
            classifier: Linear::new(4 * 4 * 4, classes)?,
            note: "not a module",
        })
    }
}

impl Forward for Cnn {
    fn forward(&self, x: &Tensor) -> Result<Tensor, strata::nn::Error> {
        self.classifier.forward(&self.features.forward(x)?)
    }
}

/// A tuple struct of recurrent layers, with an optional part.
#[derive(Module)]
struct Recurrent(Embedding, GRU, RNN, Option<BatchNorm1d>);

#[test]
fn derive_and_layers_through_the_prelude() -> Result<(), Box<dyn std::error::Error>> {
    manual_seed(3);
    let cnn = Cnn::new(3)?;
    assert_eq!(cnn.note, "not a module");
    let names: Vec<String> = cnn.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names[..6],
        [
            "features.0.weight",
            "features.0.bias",
            "features.1.weight",
            "features.1.bias",
            "classifier.weight",
            "classifier.bias"
        ]
    );
    assert!(names.contains(&"features.1.running_mean".to_string()));
    assert_eq!(cnn.num_parameters(), 4 * 9 + 4 + 4 + 4 + 64 * 3 + 3);
    let y = cnn.forward(&Tensor::randn(&[2, 1, 8, 8]))?;
    assert_eq!(y.shape(), &[2, 3]);

    let config = RecurrentConfig {
        batch_first: true,
        ..Default::default()
    };
    let rec = Recurrent(
        Embedding::new(10, 4)?,
        GRU::with_config(4, 5, config)?,
        RNN::with_config(5, 2, RNNNonlinearity::Relu, config)?,
        None,
    );
    let names: Vec<String> = rec.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[0], "0.weight");
    assert_eq!(names[1], "1.weight_ih_l0");
    assert_eq!(names.last().map(String::as_str), Some("2.bias_hh_l0"));
    let ids = Tensor::from_vec(vec![1i64, 2, 3, 4, 5, 6], &[2, 3])?;
    let out = rec.2.forward(&rec.1.forward(&rec.0.forward(&ids)?)?)?;
    assert_eq!(out.shape(), &[2, 3, 2]);
    let lstm = LSTM::new(2, 3)?;
    let state: LstmState = lstm.forward_with_state(&Tensor::randn(&[4, 1, 2]), None)?.1;
    assert_eq!(state.0.shape(), &[1, 1, 3]);
    Ok(())
}

#[test]
fn partial_checkpoint_loading_through_the_prelude() -> Result<(), Box<dyn std::error::Error>> {
    let path =
        std::env::temp_dir().join(format!("strata-prelude-{}.safetensors", std::process::id()));
    let pretrained = Cnn::new(10)?;
    save_safetensors(&pretrained, &path)?;
    // A new head of another size: only `features.*` loads, strictly within the prefix.
    let model = Cnn::new(3)?;
    let head_before = model.classifier.weight().to_vec::<f32>()?;
    let report = load_safetensors_prefix(&model, &path, "features.", true)?;
    assert_eq!(report.loaded.len(), 7); // conv w, b; bn w, b, mean, var, count
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let conv = |m: &Cnn| m.state_dict()[0].1.to_vec::<f32>();
    assert_eq!(conv(&model)?, conv(&pretrained)?);
    assert_eq!(model.classifier.weight().to_vec::<f32>()?, head_before);
    // The whole file strictly does not fit (the head's shapes differ).
    assert!(load_safetensors(&model, &path, true).is_err());
    // The same through the helpers.
    let entries = read_safetensors(&path)?;
    assert_eq!(select_prefix(&entries, "classifier.").len(), 2);
    assert_eq!(rename_prefix(&entries, "features.", "").len(), 7);
    let report = load_weights(
        &model.features,
        &rename_prefix(&entries, "features.", ""),
        true,
    )?;
    assert_eq!(report.loaded.len(), 7);
    std::fs::remove_file(&path)?;
    Ok(())
}

#[test]
fn text_and_series_datasets_through_the_prelude() -> Result<(), Box<dyn std::error::Error>> {
    let text = CharText::from_string("abcabcabcdabcd".to_string());
    assert_eq!(text.vocab().len(), 4);
    // 14 characters: the first 10 train, the last 4 validate.
    let (train, val) = text.windows(3, 1, 0.3)?;
    assert_eq!((train.len(), val.len()), (7, 1));
    let ex: Example = train.get(1)?;
    assert_eq!(ex.input.to_vec::<i64>()?, vec![1, 2, 0]);
    assert_eq!(ex.target.to_vec::<i64>()?, vec![2, 0, 1]);
    let vocab: &CharVocab = text.vocab();
    assert_eq!(vocab.decode(&[3, 0])?, "da");

    let series = TimeSeries::from_values((0..10).map(|v| v as f32).collect())?;
    let windows: SeriesWindows = series.windows(4, 2, 1)?;
    assert_eq!(windows.len(), 5);
    let ex = windows.get(2)?;
    assert_eq!(ex.input.to_vec::<f32>()?, vec![2.0, 3.0, 4.0, 5.0]);
    assert_eq!(ex.target.to_vec::<f32>()?, vec![6.0, 7.0]);
    let loader = DataLoader::new(windows).batch_size(2);
    assert_eq!(loader.len(), 3);
    Ok(())
}
