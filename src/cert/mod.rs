//! CERT insider-threat data sets (r4.2, r5.2, r6.2): the readers, and a simulator.
//!
//! [`activity`] streams the five activity files (`logon`, `device`, `http`, `email`, `file`)
//! merged by time, one row per file in memory, whatever the release's column layout; [`keys`]
//! turns each row into a key line with the user's context (hour, whose PC, media, site and
//! recipient categories, first-time-seen); [`org`]
//! reads the monthly LDAP snapshots (roles, supervisors, departures), the psychometric scores
//! and the answer key; [`time`] is CERT's `MM/DD/YYYY HH:MM:SS` clock. Bad rows are reported
//! with file and line and skipped. [`categories`] holds the web-site and mail-domain lists
//! (job search, leak sites, cloud storage, hacking, webmail) that the simulator draws from and
//! the keys classify with; [`simulate`] writes an r5.2-layout data set with planted insiders.

pub mod activity;
pub mod categories;
pub mod keys;
pub mod org;
pub mod simulate;
pub mod time;

pub use activity::{Activity, Kind, Merged, Source};
pub use categories::{Categories, Category};
