//! dante: insider-threat detection on the edge, from system logs.
//!
//! # Brief overview
//!
//! Lines flow through one folder per stage:
//!
//! 1. [`source`]: read lines (files, stdin) with a cap on their length;
//! 2. [`keys`]: decode the header and turn the message into a log key, the printf-style template
//!    that printed it, with typed parameter values;
//! 3. later stages (`user`, `model`, `score`, `sink`) attribute, score and deliver;
//! 4. [`eval`]: evaluations on public data sets.
//!
//! Every stage fills in the one [`event::Event`] type.
//!
//! ```
//! use dante::keys::{Format, KeyExtractor, Miner};
//!
//! let mut keys = KeyExtractor::new(Format::Auto, Miner::default());
//! let a = keys.key("Dec 10 06:55:46 web-3 sshd[24200]: Invalid user webmaster from 173.234.31.186");
//! let b = keys.key("Dec 10 06:55:49 web-3 sshd[24202]: Invalid user test from 10.0.0.7");
//! assert_eq!(a, b);
//! assert_eq!(keys.miner().template(a).unwrap(), "Invalid user <*> from <*>");
//! ```
#![warn(missing_docs)]

pub mod eval;
pub mod event;
pub mod keys;
pub mod source;
