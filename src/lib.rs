//! dante: insider-threat detection on the edge, from system logs.
//!
//! # Brief overview
//!
//! Lines flow through one folder per stage:
//!
//! 1. [`source`]: read lines (files, stdin) with a cap on their length;
//! 2. [`keys`]: decode the header and turn the message into a log key, the printf-style template
//!    that printed it, with typed parameter values;
//! 3. [`model`]: the LSTM next-key model (training with candle, f32 inference);
//! 4. [`score`]: DeepLog's decision per key and a verdict per session, explained;
//! 5. [`user`]: which user (or host) an event belongs to, sessions per user per day;
//! 6. later stages (`sink`) deliver;
//! 7. [`cert`]: the CERT insider-threat data sets, read as activity streams;
//! 8. [`eval`]: evaluations on public data sets.
//!
//! Every stage fills in the one [`event::Event`] type.
//!
//! ```
//! use dante::keys::{Format, KeyExtractor, Miner};
//!
//! let mut keys = KeyExtractor::new(Format::Auto, Miner::default());
//! let ids: Vec<_> = ["webmaster", "test", "oracle"]
//!     .iter()
//!     .map(|u| keys.key(&format!("Dec 10 06:55:46 web-3 sshd[24200]: Invalid user {u} from 10.0.0.7")))
//!     .collect();
//! // Once a position has shown three different words it is a variable, and the keys merge.
//! let key = keys.miner().canonical(ids[0]);
//! assert!(ids.iter().all(|id| keys.miner().canonical(*id) == key));
//! assert_eq!(keys.miner().template(key).unwrap(), "Invalid user <*> from <*>");
//! ```
#![warn(missing_docs)]

pub mod agent;
pub mod atomic;
pub mod cert;
pub mod config;
pub mod eval;
pub mod event;
pub mod keys;
pub mod model;
pub mod score;
pub mod secret;
pub mod sink;
pub mod source;
pub mod user;
