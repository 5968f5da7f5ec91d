//! The registry: every experiment of the lesson by name, one file each.

use crate::{Options, Outcome, Result};

mod activations;
mod attention;
mod depth_vs_width;
mod dying_relu;
mod initialisation;
mod long_dependencies;
mod optimisers;
mod regularisation;
mod schedules;
mod transfer;
mod vanishing_gradients;

/// An experiment: its name on the command line, the claim it tests, and its run.
pub struct Experiment {
    pub name: &'static str,
    pub claim: &'static str,
    /// `None` while the experiment is not written yet.
    pub(crate) run: Option<fn(&Options) -> Result<Outcome>>,
}

impl Experiment {
    /// True when it can run.
    pub fn implemented(&self) -> bool {
        self.run.is_some()
    }
}

/// All eleven experiments, in the order of the lesson.
pub const ALL: &[Experiment] = &[
    Experiment {
        name: "depth-vs-width",
        claim: "depth buys compositional functions more cheaply than width",
        run: Some(depth_vs_width::run),
    },
    Experiment {
        name: "vanishing-gradients",
        claim:
            "gradients vanish through deep sigmoid stacks; He init and BatchNorm keep them flowing",
        run: Some(vanishing_gradients::run),
    },
    Experiment {
        name: "dying-relu",
        claim: "large learning rates kill ReLU units; leaky variants survive",
        run: Some(dying_relu::run),
    },
    Experiment {
        name: "activations",
        claim: "ReLU-family activations train faster than sigmoid",
        run: Some(activations::run),
    },
    Experiment {
        name: "regularisation",
        claim: "dropout, L2 and augmentation shrink the generalisation gap",
        run: Some(regularisation::run),
    },
    Experiment {
        name: "initialisation",
        claim: "the initial weight scale decides whether signals survive depth",
        run: Some(initialisation::run),
    },
    Experiment {
        name: "optimisers",
        claim: "momentum and adaptive methods beat plain SGD at the same budget",
        run: Some(optimisers::run),
    },
    Experiment {
        name: "schedules",
        claim: "a decaying learning rate ends lower than a constant one",
        run: Some(schedules::run),
    },
    Experiment {
        name: "long-dependencies",
        claim: "gated recurrent nets learn long-range dependencies a plain RNN cannot",
        run: Some(long_dependencies::run),
    },
    Experiment {
        name: "attention",
        claim: "attention keeps long sequences translatable",
        run: Some(attention::run),
    },
    Experiment {
        name: "transfer",
        claim: "pretrained features beat training from scratch on few labels",
        run: Some(transfer::run),
    },
];
