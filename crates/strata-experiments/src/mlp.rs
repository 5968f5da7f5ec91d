//! The multilayer perceptron most experiments study, built so that every layer's
//! pre-activations, activations and weights can be read: a stack of `Linear` layers, an
//! optional BatchNorm before each activation, optional dropout after it, and a chosen activation and initialisation.

use crate::Result;
use strata_core::Tensor;
use strata_nn::init::{FanMode, Init, Nonlinearity};
use strata_nn::{
    BatchNorm1d, Dropout, Forward, LeakyReLU, Linear, PReLU, ReLU, SiLU, Sigmoid, Swish, Tanh, ELU,
    GELU,
};

/// A hidden-layer activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Sigmoid,
    Tanh,
    Relu,
    /// Negative slope 0.01.
    LeakyRelu,
    /// α = 1.
    Elu,
    Gelu,
    /// Swish with β fixed at 1 (SiLU).
    Swish,
    /// Swish with a learnable β per layer, starting at 1.
    SwishLearned,
    /// One learnable slope per layer, starting at 0.25.
    Prelu,
}

impl Act {
    /// The name used in series, plots and tables.
    pub fn name(self) -> &'static str {
        match self {
            Act::Sigmoid => "sigmoid",
            Act::Tanh => "tanh",
            Act::Relu => "relu",
            Act::LeakyRelu => "leaky-relu",
            Act::Elu => "elu",
            Act::Gelu => "gelu",
            Act::Swish => "swish",
            Act::SwishLearned => "swish-learned-beta",
            Act::Prelu => "prelu",
        }
    }

    fn module(self) -> Result<Box<dyn Forward>> {
        Ok(match self {
            Act::Sigmoid => Box::new(Sigmoid::new()),
            Act::Tanh => Box::new(Tanh::new()),
            Act::Relu => Box::new(ReLU::new()),
            Act::LeakyRelu => Box::new(LeakyReLU::new(0.01)?),
            Act::Elu => Box::new(ELU::new(1.0)?),
            Act::Gelu => Box::new(GELU::new()),
            Act::Swish => Box::new(SiLU::new()),
            Act::SwishLearned => Box::new(Swish::new()),
            Act::Prelu => Box::new(PReLU::new(1)?),
        })
    }
}

/// How the weights start. Every scheme but `Default` also zeroes the biases, so that the
/// weights alone decide the signal's scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightInit {
    /// PyTorch's Linear default (Kaiming-uniform with a = √5, biases uniform).
    Default,
    /// Every weight and bias 0.
    Zeros,
    /// Normal with this standard deviation.
    Normal(f64),
    /// Glorot & Bengio: variance `gain² · 2 / (fan_in + fan_out)`.
    Xavier { gain: f64 },
    /// He et al.: variance `2 / fan_in`.
    He,
}

impl WeightInit {
    fn apply(self, layer: &Linear) -> Result<()> {
        let weight = match self {
            WeightInit::Default => return Ok(()),
            WeightInit::Zeros => Init::Zeros,
            WeightInit::Normal(std) => Init::Normal { mean: 0.0, std },
            WeightInit::Xavier { gain } => Init::XavierNormal { gain },
            WeightInit::He => Init::KaimingNormal {
                mode: FanMode::FanIn,
                nonlinearity: Nonlinearity::Relu,
            },
        };
        weight.apply(layer.weight())?;
        if let Some(bias) = layer.bias() {
            Init::Zeros.apply(bias)?;
        }
        Ok(())
    }
}

/// What an [`Mlp`] is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpSpec {
    pub input: usize,
    /// The widths of the hidden layers; their number is the depth.
    pub hidden: Vec<usize>,
    pub output: usize,
    pub act: Act,
    pub batch_norm: bool,
    /// The probability of dropping each hidden unit in training (0: no dropout layers).
    pub dropout: f64,
    pub init: WeightInit,
}

impl MlpSpec {
    /// `depth` hidden layers of `width` units.
    pub fn uniform(input: usize, width: usize, depth: usize, output: usize, act: Act) -> MlpSpec {
        MlpSpec {
            input,
            hidden: vec![width; depth],
            output,
            act,
            batch_norm: false,
            dropout: 0.0,
            init: WeightInit::Default,
        }
    }

    pub fn init(mut self, init: WeightInit) -> MlpSpec {
        self.init = init;
        self
    }

    pub fn batch_norm(mut self, on: bool) -> MlpSpec {
        self.batch_norm = on;
        self
    }

    pub fn dropout(mut self, p: f64) -> MlpSpec {
        self.dropout = p;
        self
    }
}

/// The network: `linears[i]` feeds hidden layer `i` (and the last one the output).
///
/// ```
/// use strata_experiments::mlp::{Act, Mlp, MlpSpec, WeightInit};
/// use strata_core::Tensor;
/// let net = Mlp::new(&MlpSpec::uniform(4, 8, 3, 2, Act::Tanh).init(WeightInit::Xavier { gain: 1.0 }))?;
/// let trace = net.trace(&Tensor::randn(&[5, 4]))?;
/// assert_eq!((trace.post.len(), trace.logits.shape()), (3, &[5, 2][..]));
/// # Ok::<(), strata_experiments::ExperimentError>(())
/// ```
#[derive(strata_nn::Module)]
pub struct Mlp {
    linears: Vec<Linear>,
    norms: Vec<BatchNorm1d>,
    acts: Vec<Box<dyn Forward>>,
    drops: Vec<Dropout>,
}

/// One forward pass, layer by layer.
pub struct Trace {
    /// Each hidden layer's input to its activation (after BatchNorm when there is one).
    pub pre: Vec<Tensor>,
    /// Each hidden layer's output.
    pub post: Vec<Tensor>,
    pub logits: Tensor,
}

impl Mlp {
    pub fn new(spec: &MlpSpec) -> Result<Mlp> {
        let mut sizes = vec![spec.input];
        sizes.extend(&spec.hidden);
        sizes.push(spec.output);
        let mut linears = Vec::new();
        for pair in sizes.windows(2) {
            let layer = Linear::new(pair[0], pair[1])?;
            spec.init.apply(&layer)?;
            linears.push(layer);
        }
        let norms = if spec.batch_norm {
            spec.hidden
                .iter()
                .map(|&w| BatchNorm1d::new(w))
                .collect::<std::result::Result<_, _>>()?
        } else {
            Vec::new()
        };
        let acts = spec
            .hidden
            .iter()
            .map(|_| spec.act.module())
            .collect::<Result<_>>()?;
        let drops = if spec.dropout > 0.0 {
            spec.hidden
                .iter()
                .map(|_| Dropout::new(spec.dropout))
                .collect::<std::result::Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(Mlp {
            linears,
            norms,
            acts,
            drops,
        })
    }

    /// The Linear layers, input side first; the last one produces the output.
    pub fn linears(&self) -> &[Linear] {
        &self.linears
    }

    /// The activation modules, one per hidden layer (PReLU and learnable Swish hold
    /// parameters).
    pub fn activations(&self) -> &[Box<dyn Forward>] {
        &self.acts
    }

    /// The forward pass keeping every hidden layer's pre-activation and output.
    pub fn trace(&self, x: &Tensor) -> Result<Trace> {
        let mut h = x.clone();
        let (mut pre, mut post) = (Vec::new(), Vec::new());
        for (i, act) in self.acts.iter().enumerate() {
            let mut z = self.linears[i].forward(&h)?;
            if let Some(norm) = self.norms.get(i) {
                z = norm.forward(&z)?;
            }
            h = act.forward(&z)?;
            pre.push(z);
            post.push(h.clone());
            if let Some(drop) = self.drops.get(i) {
                h = drop.forward(&h)?;
            }
        }
        let logits = self.linears[self.acts.len()].forward(&h)?;
        Ok(Trace { pre, post, logits })
    }
}

impl Forward for Mlp {
    fn forward(&self, x: &Tensor) -> strata_nn::Result<Tensor> {
        let mut h = x.clone();
        for (i, act) in self.acts.iter().enumerate() {
            h = self.linears[i].forward(&h)?;
            if let Some(norm) = self.norms.get(i) {
                h = norm.forward(&h)?;
            }
            h = act.forward(&h)?;
            if let Some(drop) = self.drops.get(i) {
                h = drop.forward(&h)?;
            }
        }
        self.linears[self.acts.len()].forward(&h)
    }
}
