//! CERT activity as log keys, the DANTE way but with context: each row becomes a short line
//! whose words are the activity and what makes it unusual for *this* user — the hour (work,
//! after hours, weekend), whose PC (own, a colleague's, a shared one, the supervisor's), removable
//! media, the URL's category, where an e-mail goes (internal, external, personal webmail),
//! attachments, whether the PC, site or recipient is new for the user, and whether a request to
//! a site they hardly know follows a file row within the minute (`after-file`, a likely
//! upload). Equal lines are one key; the vocabulary stays small (a few hundred lines) because
//! each word has few values.
//!
//! Context is learned online, as the stream goes: a user's own PC is the one they have logged on
//! to most so far; "new" means not seen for this user before in the stream. URL and e-mail
//! categories come from a classifier the caller gives (the category lists are data).

use super::activity::{Activity, Kind};
use super::org::Org;
use rustc_hash::{FxHashMap, FxHashSet};

/// What a URL is, for the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlClass {
    /// Job search and recruiting sites.
    JobSearch,
    /// Hacktivist and leak sites.
    Leak,
    /// Cloud storage and file sharing.
    Cloud,
    /// Hacking tools, keyloggers.
    Hacking,
    /// Personal webmail (also an e-mail domain class).
    Webmail,
    /// Anything else.
    Other,
}

impl UrlClass {
    fn word(self) -> &'static str {
        match self {
            Self::JobSearch => "job",
            Self::Leak => "leak",
            Self::Cloud => "cloud",
            Self::Hacking => "hacking",
            Self::Webmail => "webmail",
            Self::Other => "other",
        }
    }
}

/// The host part of a URL (`http://www.Site.com/a` → `www.site.com`).
pub fn domain(url: &str) -> String {
    let mut out = String::new();
    domain_into(url, &mut out);
    out
}

/// [`domain`] written into `out`, keeping its allocation.
fn domain_into(url: &str, out: &mut String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or("");
    out.clear();
    out.push_str(host);
    out.make_ascii_lowercase();
}

/// Whether `t` (CERT clock) falls on a Saturday or Sunday.
fn weekend(t: i64) -> bool {
    // 1970-01-01 was a Thursday: day 0 → 4 (Sunday = 0).
    let dow = (t.div_euclid(super::time::DAY) + 4).rem_euclid(7);
    dow == 0 || dow == 6
}

/// `work`, `after` (before 07:00 or from 19:00) or `weekend`.
fn when(t: i64) -> &'static str {
    let hour = t.rem_euclid(super::time::DAY) / 3600;
    if weekend(t) {
        "weekend"
    } else if !(7..19).contains(&hour) {
        "after"
    } else {
        "work"
    }
}

/// A PC, domain or recipient, by its index in [`Keyer::names`]: a user's context holds numbers,
/// so that each field of a row is hashed and compared as a string once (strings compared in
/// three or four sets per row were most of the keying time).
type Name = u32;

#[derive(Debug, Default)]
struct UserContext {
    /// Logons per PC.
    logons: FxHashMap<Name, u32>,
    /// The most logged-on PC so far.
    own: Option<(Name, u32)>,
    pcs: FxHashSet<Name>,
    /// Sites visited, with the days they were visited on.
    domains: FxHashMap<Name, Visits>,
    /// The PC and time of the user's last file row that was not a delete.
    last_file: Option<(Name, i64)>,
    recipients: FxHashSet<Name>,
    /// The supervisor (from LDAP, read once): their id until they are seen, then their index.
    supervisor: Supervisor,
}

/// How well a user knows a site: on how many days they visited it, and the last of them.
#[derive(Debug, Clone, Copy)]
struct Visits {
    days: u32,
    last: i64,
}

/// A site visited on this many days before is one the user knows: a request to it after a file
/// was opened is browsing, not a likely upload ([`UPLOAD_WINDOW`]). Upload days count too, so
/// uploads to one site on a fourth day are no longer keyed as such (the first three are).
const FAMILIAR_DAYS: u32 = 3;

/// A request to a site the user hardly knows within this many seconds of the user's last file
/// row on the same PC (opened, written or copied; not a delete) is keyed `after-file`: a likely
/// upload. r5.2 does not tell an upload from a visit
/// (r6.2 does, `http-upload`); a file picked and a page of an unfamiliar site a moment later,
/// again and again, is what documents going to a cloud service the lists do not know look like.
/// Benign browsing meets a file opened in the same minute on familiar sites mostly.
const UPLOAD_WINDOW: i64 = 60;

/// Where a user's supervisor is among the users seen.
#[derive(Debug, Default)]
enum Supervisor {
    /// None in LDAP.
    #[default]
    None,
    /// Not seen yet.
    Named(String),
    /// Their index in [`Keyer::users`].
    At(usize),
}

/// What is known of a name, whatever user meets it: a domain's class and where mail to a
/// recipient goes (found once), and for a PC how many users have it as their own so far.
#[derive(Debug, Clone, Copy, Default)]
struct Facts {
    class: Option<UrlClass>,
    dest: Option<Dest>,
    /// How many users' own PC this is (a count, as two users may share one).
    owners: u32,
}

/// Where mail to a recipient goes, by their domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    Internal,
    External,
    Webmail,
}

/// Turns activity into key lines, learning each user's context as it goes.
pub struct Keyer<'a> {
    org: &'a Org,
    classify: Box<dyn Fn(&str) -> UrlClass + 'a>,
    /// The organisation's e-mail domain(s): recipients there are internal.
    internal: FxHashSet<String>,
    /// Each user's index in `users`, in order of first appearance.
    index: FxHashMap<String, usize>,
    users: Vec<UserContext>,
    /// The user of the row keyed last.
    last: usize,
    /// The PC of the row keyed last.
    last_pc: Name,
    /// Every PC, domain and (lower-cased) recipient met, numbered ([`Name`]), and what is known
    /// of each: a release has a few thousand among millions of rows.
    names: FxHashMap<String, Name>,
    facts: Vec<Facts>,
    line: String,
    /// Scratch for a domain or recipient being looked up.
    word: String,
}

impl std::fmt::Debug for Keyer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyer")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Keyer<'a> {
    /// A keyer for `org`'s users; `classify` tells a domain's category. Internal e-mail domains
    /// are those of the employees' addresses.
    pub fn new(org: &'a Org, classify: impl Fn(&str) -> UrlClass + 'a) -> Self {
        let internal = org
            .employees
            .values()
            .filter_map(|e| e.email.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase())
            .collect();
        Self {
            org,
            classify: Box::new(classify),
            internal,
            index: FxHashMap::default(),
            users: Vec::new(),
            last: 0,
            last_pc: 0,
            names: FxHashMap::default(),
            facts: Vec::new(),
            line: String::new(),
            word: String::new(),
        }
    }

    /// The index of the last keyed row's user: users are numbered from 0 in the order they
    /// first appear.
    pub fn user(&self) -> u32 {
        self.last as u32
    }

    /// The number of the last keyed row's PC ([`Keyer::names`] gives it back).
    pub fn pc(&self) -> u32 {
        self.last_pc
    }

    /// Every name met (PCs, domains, recipients), by the number [`Keyer::pc`] gives a PC.
    pub fn names(&self) -> Vec<String> {
        let mut out = vec![String::new(); self.facts.len()];
        for (name, &n) in &self.names {
            out[n as usize].clone_from(name);
        }
        out
    }

    /// The number of `name`, given one when new.
    fn name(names: &mut FxHashMap<String, Name>, facts: &mut Vec<Facts>, name: &str) -> Name {
        if let Some(&n) = names.get(name) {
            return n;
        }
        let n = facts.len() as Name;
        names.insert(name.to_string(), n);
        facts.push(Facts::default());
        n
    }

    /// The key line of `a`, valid until the next call.
    pub fn key(&mut self, a: &Activity) -> &str {
        // One lookup of the user per row; the supervisor (LDAP is a BTreeMap of strings) is
        // looked up when the user is first seen, and found among the users once they appear.
        let u = match self.index.get(a.user.as_str()) {
            Some(u) => *u,
            None => {
                let u = self.users.len();
                let supervisor = self
                    .org
                    .employees
                    .get(&a.user)
                    .and_then(|e| e.supervisor.clone())
                    .map_or(Supervisor::None, Supervisor::Named);
                self.index.insert(a.user.clone(), u);
                self.users.push(UserContext {
                    supervisor,
                    ..UserContext::default()
                });
                u
            }
        };
        self.last = u;
        if let Supervisor::Named(s) = &self.users[u].supervisor
            && let Some(&at) = self.index.get(s.as_str())
        {
            self.users[u].supervisor = Supervisor::At(at);
        }
        let (names, facts) = (&mut self.names, &mut self.facts);
        let pc = Self::name(names, facts, &a.pc);
        self.last_pc = pc;
        let at_supervisor = match self.users[u].supervisor {
            Supervisor::At(s) => self.users[s].own.is_some_and(|(own, _)| own == pc),
            _ => false,
        };
        let ctx = &mut self.users[u];
        let line = &mut self.line;
        let word = &mut self.word;
        let classify = &*self.classify;
        line.clear();
        // Another user's own PC ("colleague") is not a PC nobody owns, such as a shared floor
        // PC ("other"): many use those, while only IT staff and insiders visit colleagues'.
        let pc_word = match ctx.own {
            Some((own, _)) if own == pc => "own",
            _ if at_supervisor => "supervisor",
            None => "first",
            Some(_) if facts[pc as usize].owners > 0 => "colleague",
            Some(_) => "other",
        };
        let new_pc = ctx.pcs.insert(pc);
        let mut push = |w: &str| {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(w);
        };
        match &a.kind {
            Kind::Logon => push("logon"),
            Kind::Logoff => push("logoff"),
            Kind::Connect { .. } => push("usb-connect"),
            Kind::Disconnect => push("usb-disconnect"),
            Kind::Http { url, activity } => {
                push(match activity.as_deref() {
                    Some(a) if a.ends_with("Upload") => "http-upload",
                    Some(a) if a.ends_with("Download") => "http-download",
                    _ => "http",
                });
                domain_into(url, word);
                let d = Self::name(names, facts, word);
                let class = *facts[d as usize]
                    .class
                    .get_or_insert_with(|| classify(word));
                push(class.word());
                let today = a.time.div_euclid(super::time::DAY);
                let mut known = true;
                let visits = ctx.domains.entry(d).or_insert_with(|| {
                    known = false;
                    Visits {
                        days: 0,
                        last: i64::MIN,
                    }
                });
                if !known {
                    push("new-site");
                }
                let familiar = visits.days - u32::from(visits.last == today) >= FAMILIAR_DAYS;
                // Rows out of order (a file of the release unsorted) add no day twice.
                if today > visits.last {
                    visits.days += 1;
                    visits.last = today;
                }
                let after_file = ctx
                    .last_file
                    .is_some_and(|(at, t)| at == pc && (0..=UPLOAD_WINDOW).contains(&(a.time - t)));
                if after_file && !familiar {
                    push("after-file");
                }
            }
            Kind::Email {
                activity,
                attachments,
                ..
            } => {
                push(match activity.as_deref() {
                    Some(a) if a.eq_ignore_ascii_case("View") => "email-view",
                    _ => "email-send",
                });
                let mut dest = Dest::Internal;
                let mut new_recipient = false;
                for r in a.recipients() {
                    word.clear();
                    word.push_str(r);
                    word.make_ascii_lowercase();
                    let n = Self::name(names, facts, word);
                    let to = *facts[n as usize].dest.get_or_insert_with(|| {
                        let domain = word.rsplit_once('@').map_or("", |(_, d)| d);
                        if self.internal.contains(domain) {
                            Dest::Internal
                        } else if classify(domain) == UrlClass::Webmail {
                            Dest::Webmail
                        } else {
                            Dest::External
                        }
                    });
                    // Webmail outranks any other external recipient.
                    dest = match (dest, to) {
                        (Dest::Webmail, _) | (_, Dest::Webmail) => Dest::Webmail,
                        (Dest::External, _) | (_, Dest::External) => Dest::External,
                        _ => Dest::Internal,
                    };
                    new_recipient |= ctx.recipients.insert(n);
                }
                push(match dest {
                    Dest::Internal => "internal",
                    Dest::External => "external",
                    Dest::Webmail => "webmail",
                });
                if *attachments > 0 {
                    push("attachment");
                }
                if new_recipient {
                    push("new-recipient");
                }
            }
            Kind::File {
                activity,
                to_removable,
                from_removable,
                ..
            } => {
                push(match activity.as_deref() {
                    Some(a) if a.ends_with("Write") => "file-write",
                    Some(a) if a.ends_with("Copy") => "file-copy",
                    Some(a) if a.ends_with("Delete") => "file-delete",
                    _ => "file-open",
                });
                if !activity.as_deref().is_some_and(|a| a.ends_with("Delete")) {
                    ctx.last_file = Some((pc, a.time));
                }
                if *to_removable {
                    push("to-usb");
                }
                if *from_removable {
                    push("from-usb");
                }
            }
        }
        push(pc_word);
        if new_pc && ctx.own.is_some() {
            push("new-pc");
        }
        push(when(a.time));
        // The own PC follows the logons.
        if a.kind == Kind::Logon {
            let n = ctx.logons.entry(pc).or_default();
            *n += 1;
            let n = *n;
            match ctx.own {
                Some((own, _)) if own == pc => ctx.own = Some((pc, n)),
                Some((_, best)) if n <= best => {}
                old => {
                    if let Some((old, _)) = old {
                        facts[old as usize].owners = facts[old as usize].owners.saturating_sub(1);
                    }
                    facts[pc as usize].owners += 1;
                    ctx.own = Some((pc, n));
                }
            }
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::org::Employee;
    use crate::cert::time;

    fn org() -> Org {
        let mut org = Org::default();
        for (id, sup) in [("BOSS", None), ("ANN", Some("BOSS"))] {
            org.employees.insert(
                id.into(),
                Employee {
                    email: format!("{id}@dtaa.com"),
                    supervisor: sup.map(str::to_string),
                    ..Employee::default()
                },
            );
        }
        org
    }

    fn at(date: &str, user: &str, pc: &str, kind: Kind) -> Activity {
        Activity {
            time: time::parse(date.as_bytes()).unwrap(),
            user: user.into(),
            pc: pc.into(),
            kind,
        }
    }

    fn classify(d: &str) -> UrlClass {
        match d {
            "wikileaks.org" => UrlClass::Leak,
            "gmail.com" => UrlClass::Webmail,
            "monster.com" => UrlClass::JobSearch,
            _ => UrlClass::Other,
        }
    }

    fn email(to: &str, attachments: u32) -> Kind {
        Kind::Email {
            activity: Some("Send".into()),
            from: "ANN@dtaa.com".into(),
            to: to.into(),
            cc: String::new(),
            bcc: String::new(),
            size: 10,
            attachments,
        }
    }

    #[test]
    fn keys_carry_the_context() {
        let org = org();
        let mut k = Keyer::new(&org, classify);
        let mut key =
            |d: &str, u: &str, pc: &str, kind: Kind| k.key(&at(d, u, pc, kind)).to_string();
        // 01/04/2010 is a Monday.
        assert_eq!(
            key("01/04/2010 08:00:00", "BOSS", "PC-B", Kind::Logon),
            "logon first work"
        );
        assert_eq!(
            key("01/04/2010 08:00:00", "ANN", "PC-A", Kind::Logon),
            "logon first work"
        );
        assert_eq!(
            key(
                "01/04/2010 08:05:00",
                "ANN",
                "PC-A",
                Kind::Connect { file_tree: None }
            ),
            "usb-connect own work"
        );
        let http = |url: &str| Kind::Http {
            url: url.into(),
            activity: None,
        };
        assert_eq!(
            key(
                "01/04/2010 09:00:00",
                "ANN",
                "PC-A",
                http("http://www.x.com/a")
            ),
            "http other new-site own work"
        );
        assert_eq!(
            key(
                "01/04/2010 09:01:00",
                "ANN",
                "PC-A",
                http("http://www.x.com/b")
            ),
            "http other own work"
        );
        assert_eq!(
            key(
                "01/04/2010 23:00:00",
                "ANN",
                "PC-A",
                http("https://WikiLeaks.org/up")
            ),
            "http leak new-site own after"
        );
        // Saturday, at the supervisor's PC, a PC new to her.
        assert_eq!(
            key("01/09/2010 10:00:00", "ANN", "PC-B", Kind::Logon),
            "logon supervisor new-pc weekend"
        );
        assert_eq!(
            key(
                "01/04/2010 10:00:00",
                "ANN",
                "PC-A",
                email("BOSS@dtaa.com", 0)
            ),
            "email-send internal new-recipient own work"
        );
        assert_eq!(
            key(
                "01/04/2010 10:00:00",
                "ANN",
                "PC-A",
                email("BOSS@dtaa.com;me@gmail.com", 2)
            ),
            "email-send webmail attachment new-recipient own work"
        );
        assert_eq!(
            key(
                "01/04/2010 10:00:00",
                "ANN",
                "PC-A",
                email("x@lockheed.com", 0)
            ),
            "email-send external new-recipient own work"
        );
        let file = Kind::File {
            path: "R:\\a.doc".into(),
            activity: Some("File Copy".into()),
            to_removable: true,
            from_removable: false,
        };
        assert_eq!(
            key("01/04/2010 06:00:00", "ANN", "PC-A", file),
            "file-copy to-usb own after"
        );
    }

    #[test]
    fn the_own_pc_follows_the_logons() {
        let org = org();
        let mut k = Keyer::new(&org, classify);
        for (i, pc) in ["PC-1", "PC-2", "PC-2"].iter().enumerate() {
            k.key(&at(
                &format!("01/04/2010 0{}:00:00", i + 7),
                "ANN",
                pc,
                Kind::Logon,
            ));
        }
        assert_eq!(
            k.key(&at("01/04/2010 12:00:00", "ANN", "PC-2", Kind::Logoff)),
            "logoff own work"
        );
        assert_eq!(
            k.key(&at("01/04/2010 12:00:00", "ANN", "PC-1", Kind::Logoff)),
            "logoff other work"
        );
    }

    #[test]
    fn a_colleagues_pc_is_not_a_shared_one() {
        let org = org();
        let mut k = Keyer::new(&org, classify);
        let logon = |k: &mut Keyer<'_>, user: &str, pc: &str| {
            k.key(&at("01/04/2010 08:00:00", user, pc, Kind::Logon))
                .to_string()
        };
        // BOB's own PC is PC-B, ANN's PC-A; PC-S is nobody's own.
        logon(&mut k, "BOB", "PC-B");
        for _ in 0..3 {
            logon(&mut k, "ANN", "PC-A");
        }
        assert_eq!(logon(&mut k, "ANN", "PC-B"), "logon colleague new-pc work");
        assert_eq!(logon(&mut k, "ANN", "PC-S"), "logon other new-pc work");
        // BOB moves to PC-C (more logons there): PC-B is nobody's now, PC-C a colleague's.
        logon(&mut k, "BOB", "PC-C");
        logon(&mut k, "BOB", "PC-C");
        assert_eq!(logon(&mut k, "ANN", "PC-B"), "logon other work");
        assert_eq!(logon(&mut k, "ANN", "PC-C"), "logon colleague new-pc work");
        // Two users with one own PC: it stays a colleague's while either has it.
        for _ in 0..3 {
            logon(&mut k, "CAT", "PC-A");
        }
        for _ in 0..5 {
            logon(&mut k, "ANN", "PC-Z");
        }
        assert_eq!(logon(&mut k, "BOB", "PC-A"), "logon colleague new-pc work");
        // ANN's own is her own; the supervisor's PC stays the supervisor's.
        assert_eq!(logon(&mut k, "ANN", "PC-Z"), "logon own work");
        logon(&mut k, "BOSS", "PC-X");
        assert_eq!(logon(&mut k, "ANN", "PC-X"), "logon supervisor new-pc work");
    }

    #[test]
    fn a_site_hardly_known_right_after_a_file_is_a_likely_upload() {
        let org = org();
        let mut k = Keyer::new(&org, classify);
        let mut key = |d: &str, pc: &str, kind: Kind| k.key(&at(d, "ANN", pc, kind)).to_string();
        let open = |act: &str| Kind::File {
            path: "C:\\a.doc".into(),
            activity: Some(act.into()),
            to_removable: false,
            from_removable: false,
        };
        let http = |url: &str| Kind::Http {
            url: url.into(),
            activity: None,
        };
        key("01/04/2010 08:00:00", "PC-A", Kind::Logon);
        key("01/04/2010 09:00:00", "PC-A", open("File Open"));
        // Within the minute, on the PC of the file: new site or not, it is after a file.
        assert_eq!(
            key("01/04/2010 09:00:20", "PC-A", http("http://box.io/up")),
            "http other new-site after-file own work"
        );
        assert_eq!(
            key("01/04/2010 09:01:00", "PC-A", http("http://box.io/up")),
            "http other after-file own work"
        );
        // A minute and a second later, before the file (a row out of order), or from another
        // PC, it is browsing.
        assert_eq!(
            key("01/04/2010 08:59:50", "PC-A", http("http://box.io/up")),
            "http other own work"
        );
        assert_eq!(
            key("01/04/2010 09:01:01", "PC-A", http("http://box.io/up")),
            "http other own work"
        );
        assert_eq!(
            key("01/04/2010 09:00:30", "PC-B", http("http://box.io/up")),
            "http other other new-pc work"
        );
        // A delete picks no file.
        key("01/04/2010 09:10:00", "PC-A", open("File Delete"));
        assert_eq!(
            key("01/04/2010 09:10:10", "PC-A", http("http://box.io/up")),
            "http other own work"
        );
        // Visited on 01/04, 01/05 and 01/06, it is still hardly known on those days (many
        // requests in one day are one day); from the fourth day on, it is a site she knows.
        for (day, expect) in [
            ("01/05", "http other after-file own work"),
            ("01/06", "http other after-file own work"),
            ("01/07", "http other own work"),
        ] {
            key(&format!("{day}/2010 09:00:00"), "PC-A", open("File Write"));
            for _ in 0..2 {
                assert_eq!(
                    key(
                        &format!("{day}/2010 09:00:30"),
                        "PC-A",
                        http("http://box.io/x")
                    ),
                    expect,
                    "{day}"
                );
            }
        }
    }

    #[test]
    fn domains() {
        assert_eq!(domain("http://www.Site.com/a/b?q"), "www.site.com");
        assert_eq!(domain("https://u:p@host.org:8080/x"), "host.org");
        assert_eq!(domain("host.org"), "host.org");
        assert_eq!(domain(""), "");
    }
}
