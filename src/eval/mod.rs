//! Evaluations anyone can run: they read public data sets from paths and print what dante
//! achieves on them. Slow evaluations live here, not in the tests.
//!
//! - [`cert`]: insider-threat detection on a CERT release (users, user-days, categories).
//! - [`loghub`]: template-mining accuracy (GA, FGA, PA, FTA) and speed on Loghub-2k.
//! - [`sessions`]: next-key model detection (precision, recall, F1, FPR) on session files.
//! - [`synth`]: generated authentication logs, benign or with labelled insider-like events.

pub mod cert;
pub mod loghub;
pub mod sessions;
pub mod synth;
