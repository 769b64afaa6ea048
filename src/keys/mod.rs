//! Keys on the edge: every line becomes a log key, the printf-style template that printed it.
//!
//! Takes a line (text), gives a [`KeyId`], the template (`Accepted password for <*> from <*> port
//! <*> ssh2`) and the typed parameter values. The stage has three parts:
//!
//! - [`header`]: find the message inside the line (syslog, the Loghub header syntax, a regex);
//! - [`token`] and [`miner`]: mask values by shape, then mine templates online (Drain-class, one
//!   pass, bounded work per line);
//! - [`vocab`]: save and reload ids and templates atomically, so ids mean the same after a restart.
//!
//! State: the templates (at most `max_templates`, least recently seen evicted, ids never reused)
//! and a bounded cache of exact shapes. Bad input never fails here: invalid UTF-8 is replaced
//! before it arrives, NUL and CR count as spaces, a line that does not match its format is mined
//! whole and flagged.

pub mod header;
pub mod miner;
pub mod parallel;
pub mod params;
pub mod token;
pub mod vocab;

pub use header::{Decoded, Format, FormatError};
pub use miner::{KeyId, Miner, MinerConfig};

use crate::event::Event;

/// Header decoding and mining together: the keys stage as the agent uses it.
#[derive(Debug, Clone)]
pub struct KeyExtractor {
    format: Format,
    miner: Miner,
    unmatched: u64,
}

impl KeyExtractor {
    /// A stage with the given header format and miner (fresh or loaded from a vocabulary).
    pub fn new(format: Format, miner: Miner) -> Self {
        Self {
            format,
            miner,
            unmatched: 0,
        }
    }

    /// Decodes `line` and assigns its message a key.
    pub fn key(&mut self, line: &str) -> KeyId {
        let (message, matched) = self.format.message(line);
        self.unmatched += u64::from(!matched);
        self.miner.mine(message)
    }

    /// Keys a line whose [`parallel::Shape`] a worker already computed, when the miner has seen
    /// that shape: it is only counted. `None` means the line must go through [`Self::key`].
    pub fn key_known_shape(&mut self, shape: parallel::Shape) -> Option<KeyId> {
        let id = self.miner.mine_known_shape(shape.sig)?;
        self.unmatched += u64::from(!shape.matched);
        Some(id)
    }

    /// Decodes and keys `line` into an [`Event`] with its parameters.
    pub fn event(&mut self, line: &str) -> Event {
        let d = self.format.decode(line);
        self.unmatched += u64::from(!d.matched);
        let key = self.miner.mine(d.message);
        self.describe(&d, key)
    }

    /// Keys `event` in place: decodes its header with `format` when the source left it in the
    /// message (`header_pending`), mines the message, fills the key and parameters. Header fields
    /// the source already set are kept.
    pub fn fill(&mut self, event: &mut Event, format: &Format) {
        if event.header_pending {
            let mut line = std::mem::take(&mut event.message);
            let d = format.decode(&line);
            self.unmatched += u64::from(!d.matched);
            event.unmatched = !d.matched;
            event.key = self.miner.mine(d.message);
            event.params = self.mined_params(d.message, event.key);
            event.timestamp = event.timestamp.or(d.timestamp);
            if event.host.is_none() {
                event.host = d.host.map(str::to_string);
            }
            event.app = d.app.map(str::to_string);
            event.pid = d.pid.map(str::to_string);
            if event.user.is_none() {
                event.user = d.user.map(str::to_string);
            }
            // The message is (nearly always) a slice of the line: keep it in the line's buffer
            // instead of copying it into a new one.
            let start = (d.message.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
            let end = start.wrapping_add(d.message.len());
            if line
                .get(start..end)
                .is_some_and(|m| std::ptr::eq(m, d.message))
            {
                line.truncate(end);
                line.drain(..start);
                event.message = line;
            } else {
                event.message = d.message.to_string();
            }
            event.header_pending = false;
        } else {
            event.key = self.miner.mine(&event.message);
            event.params = self.mined_params(&event.message, event.key);
        }
    }

    /// The parameters of `message`, just mined (its tokens are still in the miner).
    fn mined_params(&self, message: &str, key: KeyId) -> Vec<crate::event::Param> {
        self.miner
            .template_tokens(key)
            .map(|t| params::extract_tokens(message, self.miner.last_tokens(), t))
            .unwrap_or_default()
    }

    /// The event for an already keyed line, with parameters taken against the current template.
    pub fn describe(&self, d: &Decoded<'_>, key: KeyId) -> Event {
        let params = self
            .miner
            .template_tokens(key)
            .map(|t| params::extract(d.message, t))
            .unwrap_or_default();
        Event {
            timestamp: d.timestamp,
            host: d.host.map(str::to_string),
            app: d.app.map(str::to_string),
            pid: d.pid.map(str::to_string),
            user: None,
            message: d.message.to_string(),
            header_pending: false,
            key,
            params,
            truncated: false,
            unmatched: !d.matched,
        }
    }

    /// The header format.
    pub fn format(&self) -> &Format {
        &self.format
    }

    /// The miner and its templates.
    pub fn miner(&self) -> &Miner {
        &self.miner
    }

    /// Lines that did not match the header format so far.
    pub fn unmatched(&self) -> u64 {
        self.unmatched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_keeps_the_decoded_message_and_header() {
        let lines = [
            "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 1.2.3.4  ",
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick",
            "Jun 31 06:55:46 LabSZ sshd[1]: no such day",
            "h1 hello",
            "h1",
            "",
            "Ünïcode line ✓",
        ];
        let formats = [
            Format::Auto,
            Format::Syslog,
            Format::Raw,
            // The message group may not take part: decode then gives "" from no line at all.
            Format::regex(r"^(?P<host>\S+)(?: (?P<message>.*))?$").unwrap(),
        ];
        for format in &formats {
            let mut keys = KeyExtractor::new(format.clone(), Miner::default());
            for line in lines {
                let mut event = Event {
                    message: line.to_string(),
                    header_pending: true,
                    ..Event::default()
                };
                keys.fill(&mut event, format);
                let d = format.decode(line);
                assert_eq!(event.message, d.message, "{format}: {line:?}");
                assert_eq!(event.host.as_deref(), d.host, "{format}: {line:?}");
                assert_eq!(event.app.as_deref(), d.app, "{format}: {line:?}");
                assert_eq!(event.pid.as_deref(), d.pid, "{format}: {line:?}");
                assert_eq!(event.timestamp, d.timestamp, "{format}: {line:?}");
                assert_eq!(event.unmatched, !d.matched, "{format}: {line:?}");
                assert!(!event.header_pending);
            }
        }
    }
}
