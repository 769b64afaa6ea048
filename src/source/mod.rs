//! Sources: where lines come from. For now, files and standard input read line by line with a
//! bounded buffer ([`lines`]), and session files of integer keys ([`sessions`]) for training and
//! scoring the model; the agent's tailing, syslog and HTTP sources build on them.

pub mod lines;
pub mod sessions;
