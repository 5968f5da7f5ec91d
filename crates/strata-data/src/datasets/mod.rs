//! Ready-made datasets that hold or combine other datasets.

mod concat;
mod mapped;
mod split;
mod subset;
mod tensor;

pub use concat::Concat;
pub use mapped::{Mapped, Transformed};
pub use split::{random_split, train_val_split};
pub use subset::Subset;
pub use tensor::TensorDataset;
