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
    pub(crate) run: fn(&Options) -> Result<Outcome>,
}

/// All eleven experiments, in the order of the lesson.
pub const ALL: &[Experiment] = &[
    Experiment {
        name: "depth-vs-width",
        claim: "depth buys compositional functions more cheaply than width",
        run: depth_vs_width::run,
    },
    Experiment {
        name: "vanishing-gradients",
        claim:
            "gradients vanish through deep sigmoid stacks; He init and BatchNorm keep them flowing",
        run: vanishing_gradients::run,
    },
    Experiment {
        name: "dying-relu",
        claim: "large learning rates kill ReLU units; leaky variants survive",
        run: dying_relu::run,
    },
    Experiment {
        name: "activations",
        claim: "ReLU-family activations train faster than sigmoid",
        run: activations::run,
    },
    Experiment {
        name: "regularisation",
        claim: "dropout, L2 and augmentation shrink the generalisation gap",
        run: regularisation::run,
    },
    Experiment {
        name: "initialisation",
        claim: "the initial weight scale decides whether signals survive depth",
        run: initialisation::run,
    },
    Experiment {
        name: "optimisers",
        claim: "momentum and adaptive methods beat plain SGD at the same budget",
        run: optimisers::run,
    },
    Experiment {
        name: "schedules",
        claim: "a decaying learning rate ends lower than a constant one",
        run: schedules::run,
    },
    Experiment {
        name: "long-dependencies",
        claim: "gated recurrent nets learn long-range dependencies a plain RNN cannot",
        run: long_dependencies::run,
    },
    Experiment {
        name: "attention",
        claim: "attention keeps long sequences translatable",
        run: attention::run,
    },
    Experiment {
        name: "transfer",
        claim: "pretrained features beat training from scratch on few labels",
        run: transfer::run,
    },
];
