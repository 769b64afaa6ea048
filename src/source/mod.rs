//! Sources: where lines come from. For now, files and standard input read line by line with a
//! bounded buffer ([`lines`]); the agent's tailing, syslog and HTTP sources build on it.

pub mod lines;
