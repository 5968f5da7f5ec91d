//! Most of strata-nn's integration tests, one module per file, linked into one test
//! program (one link instead of sixteen). The files that re-seed the global generator and
//! compare what it draws (attention_dropout, checkpoint_resume, module_behaviour, summary)
//! stay programs of their own: tests in one program run at once and would draw from the
//! same generator.

mod absurd_sizes;
mod attention_behaviour;
mod attention_gradients;
mod checkpoint_weights;
mod conv_layers;
mod fixture_attention;
mod fixture_conv_layers;
mod fixture_layers;
mod fixture_losses;
mod fixture_lr_schedules;
mod fixture_optimizers;
mod layer_gradients;
mod loss_errors_and_stability;
mod loss_reference;
mod recurrent_behaviour;
mod recurrent_fixtures;
