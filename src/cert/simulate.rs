//! `dante simulate cert`: a CERT r5.2-layout data set of an invented organisation, with
//! insiders of the five CERT scenarios and their answer key.
//!
//! The organisation: a president, functional units with a head, departments with a manager,
//! teams with a lead; roles decide routines (IT admins log on to many PCs, salespeople mail
//! outside, production staff share floor PCs, HR visits job boards). Each user has a PC, hours
//! with daily jitter, favourite web sites, contacts, documents, vacations and sick days; some use
//! thumb drives for work, read personal web mail, use cloud storage, work late or on weekends,
//! or leave the company (they vanish from later LDAP months), some after job hunting. Insiders
//! start in the second half of the range (the first half is a clean baseline) with random
//! intensity; scenario 3's admins score a little lower on agreeableness in `psychometric.csv`.
//! Everything comes from `seed`: one generator per user per day, so the bytes are the same for
//! the same arguments (on one platform: the draws use `f64` `ln`, `cos` and `powf`, whose last
//! bits the C library may round differently elsewhere).

use super::activity::Source;
use super::categories::{Categories, Category};
use super::time::{self, DAY};
use crate::model::SplitMix;
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Employees (at the start; a few more are hired later).
    pub users: usize,
    /// Days, from `start_day`.
    pub days: usize,
    /// Seed.
    pub seed: u64,
    /// CERT scenarios (1–5) to plant insiders of; empty for a benign set.
    pub scenarios: Vec<u8>,
    /// Insiders per scenario; `None`: one per 100 users, at least one.
    pub insiders_per_scenario: Option<usize>,
    /// The first day, as days since 1970-01-01.
    pub start_day: i64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            users: 200,
            days: 60,
            seed: 1,
            scenarios: vec![1, 2, 3, 4, 5],
            insiders_per_scenario: None,
            // 2010-01-04, a Monday (r5.2 starts on 01/02/2010).
            start_day: 14_613,
        }
    }
}

/// Most users: PC and user numbers are four digits.
pub const MAX_USERS: usize = 5000;

/// One planted insider, as written to `answers/insiders.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlantedInsider {
    /// 1 to 5.
    pub scenario: u8,
    /// The user id.
    pub user: String,
    /// First and last malicious row (CERT clock, seconds).
    pub start: i64,
    /// See `start`.
    pub end: i64,
    /// Malicious rows.
    pub rows: u64,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Rows per activity file: logon, device, http, email, file.
    pub rows: [u64; 5],
    /// Employees over the whole range.
    pub employees: usize,
    /// The insiders.
    pub insiders: Vec<PlantedInsider>,
    /// Bytes written.
    pub bytes: u64,
}

/// Checks `cfg` and writes the data set into `out` (created; it must be empty or absent).
pub fn run(cfg: &SimConfig, out: &Path) -> Result<Summary> {
    let per = insiders_per_scenario(cfg);
    check(cfg, per)?;
    if out.exists() {
        let mut entries = std::fs::read_dir(out)
            .with_context(|| format!("--out {}: cannot read it", out.display()))?;
        if entries.next().is_some() {
            bail!(
                "--out {}: exists and is not empty (the simulator does not overwrite data sets)",
                out.display()
            );
        }
    }
    for d in [out.to_path_buf(), out.join("LDAP"), out.join("answers")] {
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    let cats = Categories::embedded();
    let mut sim = Sim::new(cfg, per, &cats);
    sim.write(out)
}

fn insiders_per_scenario(cfg: &SimConfig) -> usize {
    cfg.insiders_per_scenario
        .unwrap_or_else(|| (cfg.users / 100).max(1))
}

fn check(cfg: &SimConfig, per: usize) -> Result<()> {
    if !(10..=MAX_USERS).contains(&cfg.users) {
        bail!("--users {}: must be 10 to {MAX_USERS}", cfg.users);
    }
    if cfg.days == 0 || cfg.days > 3660 {
        bail!("--days {}: must be 1 to 3660", cfg.days);
    }
    if let Some(s) = cfg.scenarios.iter().find(|s| !(1..=5).contains(*s)) {
        bail!("--scenarios: {s} is not a CERT scenario (1 to 5)");
    }
    let wanted = per * cfg.scenarios.len();
    if wanted > 0 && cfg.days < 28 {
        bail!(
            "--days {}: insiders need at least 28 days (a baseline half and their windows)",
            cfg.days
        );
    }
    if wanted * 5 > cfg.users {
        bail!(
            "--users {}: too few for {wanted} insiders (at most one in five users)",
            cfg.users
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// SplitMix with the draws the simulator needs.
struct Rng(SplitMix);

impl Rng {
    /// An independent stream for `(seed, a, b, c)`.
    fn derive(seed: u64, a: u64, b: u64, c: u64) -> Self {
        let mut s = SplitMix::new(seed ^ 0x5851_f42d_4c95_7f2d);
        let k = s.next_u64()
            ^ a.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ b.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
            ^ c.wrapping_mul(0x1656_67b1_9e37_79f9);
        let mut m = SplitMix::new(k);
        // One draw mixes the combined key fully.
        Self(SplitMix::new(m.next_u64()))
    }

    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.0.below(n) }
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// An integer in `lo..=hi`.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as usize) as i64
    }

    fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Multiplier around 1 (log-normal with spread `s`).
    fn spread(&mut self, s: f64) -> f64 {
        (self.normal() * s).exp()
    }

    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).max(1e-12).ln()
    }

    fn poisson(&mut self, lambda: f64) -> usize {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as usize;
        }
        let l = (-lambda).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.unit();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }

    fn pick<'a, T>(&mut self, s: &'a [T]) -> &'a T {
        &s[self.below(s.len())]
    }

    fn pick_str(&mut self, s: &[&'static str]) -> &'static str {
        s[self.below(s.len())]
    }

    /// `n` random characters of `[A-Z0-9]`.
    fn alnum(&mut self, n: usize, out: &mut String) {
        const C: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        for _ in 0..n {
            out.push(C[self.below(C.len())] as char);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

// Packed by hand: one name per line would be most of the file.
#[rustfmt::skip]
const FIRST: &[&str] = &[
    "Aaron", "Abigail", "Adam", "Adrian", "Aiden", "Alan", "Albert", "Alexa", "Alice", "Allen",
    "Amal", "Amber", "Amy", "Andrew", "Angela", "Ann", "Arthur", "Ashton", "Audrey", "Austin",
    "Barbara", "Basil", "Beatrice", "Benjamin", "Bernard", "Beth", "Blake", "Brandon", "Brenda",
    "Brian", "Bruce", "Caleb", "Calvin", "Cameron", "Carl", "Carol", "Cassandra", "Cedric",
    "Chandler", "Charles", "Chloe", "Clare", "Colin", "Connor", "Cynthia", "Dahlia", "Dale", "Dana",
    "Daniel", "Dean", "Deborah", "Delilah", "Dennis", "Diana", "Dolan", "Donna", "Dora", "Dylan",
    "Edan", "Edward", "Eleanor", "Elijah", "Ella", "Emery", "Emma", "Eric", "Erin", "Ethan",
    "Evelyn", "Felix", "Fiona", "Flynn", "Frances", "Gabriel", "Gail", "Garrett", "George",
    "Gillian", "Grace", "Gregory", "Hadley", "Hannah", "Harper", "Hedda", "Helen", "Henry",
    "Hilary", "Hunter", "Ian", "Ignatius", "Imogene", "Ingrid", "Irene", "Isaac", "Ivan", "Jack",
    "Jacob", "Jade", "Jana", "Jasper", "Jerome", "Jessica", "Joan", "Jordan", "Joseph", "Judith",
    "Julian", "Kai", "Karen", "Keefe", "Kelly", "Kevin", "Kim", "Kyla", "Lacey", "Lana", "Lars",
    "Laura", "Lee", "Leo", "Lila", "Lucas", "Lynn", "Macy", "Madison", "Malik", "Maria", "Mark",
    "Martha", "Maxine", "Megan", "Melvin", "Mira", "Nathaniel", "Neil", "Nell", "Nina", "Noah",
    "Norman", "Octavia", "Olga", "Oliver", "Oscar", "Paloma", "Patrick", "Paula", "Peter", "Phoebe",
    "Quinn", "Rachel", "Rafael", "Reed", "Rhonda", "Richard", "Rose", "Ruth", "Ryan", "Samuel",
    "Sara", "Scott", "Selma", "Shana", "Sophia", "Stuart", "Sybil", "Tad", "Tamara", "Thomas",
    "Tiger", "Troy", "Ulysses", "Ursula", "Valerie", "Vernon", "Victor", "Violet", "Wade", "Walter",
    "Wanda", "Wesley", "Willa", "Xavier", "Yael", "Yvonne", "Zachary", "Zelda", "Zorita",
];

// Packed by hand: one name per line would be most of the file.
#[rustfmt::skip]
const LAST: &[&str] = &[
    "Abbott", "Acosta", "Alston", "Andrews", "Baird", "Barr", "Bates", "Beck", "Bishop",
    "Blackwell", "Boyle", "Bradley", "Bruce", "Burch", "Byrd", "Cain", "Carey", "Carver",
    "Chandler", "Church", "Clay", "Cobb", "Cole", "Conrad", "Cooke", "Craft", "Crane", "Cross",
    "Dale", "Davis", "Dean", "Dixon", "Doyle", "Drake", "Duffy", "Dunn", "Eaton", "Ellis",
    "Emerson", "Estes", "Farley", "Finch", "Fisher", "Flynn", "Ford", "Foster", "Fox", "Frost",
    "Fuller", "Gallagher", "Garrison", "Gates", "Gibson", "Glass", "Goodman", "Graves", "Gray",
    "Griffin", "Hale", "Hardy", "Harrison", "Hayes", "Heath", "Hines", "Hodge", "Holt", "Hood",
    "Houston", "Hunter", "Hurst", "Ingram", "Irwin", "Jacobs", "Jarvis", "Jenkins", "Joyce",
    "Keller", "Kemp", "Kent", "Kirby", "Knox", "Lamb", "Lane", "Larsen", "Lester", "Little", "Lowe",
    "Lynch", "Mack", "Madden", "Manning", "Marsh", "Mason", "Mays", "McCall", "Mercer", "Meyer",
    "Monroe", "Moody", "Morse", "Nash", "Newton", "Nixon", "Noble", "Norris", "Oneal", "Owen",
    "Pace", "Park", "Pate", "Payne", "Pierce", "Pitts", "Porter", "Pratt", "Price", "Quinn",
    "Ramsey", "Reed", "Rhodes", "Rios", "Rivas", "Roach", "Rowe", "Rush", "Salas", "Sawyer",
    "Schultz", "Sexton", "Shaw", "Short", "Slater", "Snow", "Sparks", "Stark", "Stone", "Sweet",
    "Tate", "Terry", "Todd", "Tucker", "Underwood", "Vance", "Vaughn", "Wade", "Walsh", "Ward",
    "Watts", "Webb", "West", "Whitley", "Wiley", "Wolfe", "Wong", "Wyatt", "York", "Young",
    "Zamora",
];

// Packed by hand: one name per line would be most of the file.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "project", "schedule", "budget", "report", "meeting", "design", "review", "customer",
    "contract", "proposal", "quarter", "forecast", "supplier", "invoice", "engine", "circuit",
    "software", "release", "testing", "quality", "assembly", "shipment", "policy", "training",
    "benefits", "payroll", "security", "network", "server", "backup", "update", "license", "market",
    "pricing", "campaign", "product", "launch", "prototype", "sensor", "antenna", "radar",
    "satellite", "vehicle", "wing", "fuel", "thermal", "stress", "analysis", "model", "simulation",
    "data", "results", "draft", "final", "notes", "minutes", "agenda", "travel", "expense",
    "approval", "deadline", "milestone", "risk", "issue", "defect", "patch", "vendor", "weather",
    "game", "season", "recipe", "movie", "music", "holiday", "family", "garden", "election",
    "economy", "stocks", "health", "science", "history", "space", "ocean", "city", "team", "league",
    "score", "review", "price", "sale", "deal", "store", "phone", "camera", "laptop", "house",
    "rent", "loan", "school", "college", "course", "book", "author", "story",
];

// Packed by hand: one name per line would be most of the file.
#[rustfmt::skip]
const PAGE_WORDS: &[&str] = &[
    "news", "world", "sports", "business", "tech", "health", "travel", "weather", "local",
    "opinion", "blog", "forum", "search", "results", "article", "video", "photos", "products",
    "deals", "help", "support", "docs", "guide", "howto", "faq", "reviews", "shop", "cart",
    "account", "profile", "events", "download", "library", "archive", "topics", "story",
];

// Packed by hand: one name per line would be most of the file.
#[rustfmt::skip]
const PARTNERS: &[&str] = &[
    "lockheedmartin.com", "boeing.com", "raytheon.com", "northropgrumman.com", "gd.com",
    "harris.com", "l-3com.com", "baesystems.com", "honeywell.com", "ge.com", "siemens.com",
    "accenture.com", "deloitte.com", "kpmg.com", "unisys.com", "saic.com", "mitre.org",
    "textron.com", "rockwellcollins.com", "utc.com",
];

// Domains in no category list, so that a lookup alone cannot separate behaviour.
const UNLISTED_JOB: &[&str] = &[
    "hiringlane.com",
    "talentharbor.net",
    "careerpivot.org",
    "nextroleboard.com",
];
const UNLISTED_LEAK: &[&str] = &[
    "opentruthvault.org",
    "leaksdrop.net",
    "freedocs-archive.org",
];
const UNLISTED_CLOUD: &[&str] = &[
    "filecabinet-online.com",
    "sharebucket.net",
    "quickstash.net",
];
const UNLISTED_HACKING: &[&str] = &[
    "keystroke-capture.net",
    "stealthmonitor.biz",
    "pcspy-tools.com",
];
const UNLISTED_PERSONAL: &[&str] = &["homemail-one.net", "inboxcity.com", "qwestoffice.net"];
const ADMIN_TOOLS: &[&str] = &[
    "sysadmintools.net",
    "patchcentral.com",
    "netadmin-utils.org",
];
// Packed by hand: one name per line would be most of the file.
#[rustfmt::skip]
const SYLLABLES: &[&str] = &[
    "ba", "lo", "ne", "tri", "van", "sol", "mar", "kin", "dor", "pel", "ru", "zen", "qua", "fi",
    "gro", "tek", "lum", "ora", "vex", "pix", "nor", "cal", "dex", "mo", "ta", "ri", "sen", "ga",
];
const TLDS: &[&str] = &[
    ".com", ".com", ".com", ".net", ".org", ".info", ".us", ".biz",
];

const COMPANY: &str = "dtaa.com";

/// Archetypes of behaviour, from the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Executive,
    Manager,
    ItAdmin,
    Engineer,
    Sales,
    Office,
    Hr,
    Production,
}

struct UnitSpec {
    name: &'static str,
    weight: f64,
    depts: &'static [&'static str],
    roles: &'static [(&'static str, Kind)],
}

const UNITS: &[UnitSpec] = &[
    UnitSpec {
        name: "2 - ResearchAndEngineering",
        weight: 0.30,
        depts: &[
            "1 - SoftwareDevelopment",
            "2 - HardwareDesign",
            "3 - Research",
            "4 - Testing",
        ],
        roles: &[
            ("SoftwareEngineer", Kind::Engineer),
            ("ElectricalEngineer", Kind::Engineer),
            ("MechanicalEngineer", Kind::Engineer),
            ("ComputerScientist", Kind::Engineer),
            ("Technician", Kind::Engineer),
            ("Statistician", Kind::Engineer),
        ],
    },
    UnitSpec {
        name: "3 - Manufacturing",
        weight: 0.20,
        depts: &["1 - Assembly", "2 - QualityControl", "3 - Logistics"],
        roles: &[
            ("ProductionLineWorker", Kind::Production),
            ("ProductionLineWorker", Kind::Production),
            ("Technician", Kind::Production),
            ("MechanicalEngineer", Kind::Engineer),
        ],
    },
    UnitSpec {
        name: "4 - SalesAndMarketing",
        weight: 0.18,
        depts: &["1 - Sales", "2 - Marketing", "3 - FieldService"],
        roles: &[
            ("Salesman", Kind::Sales),
            ("Salesman", Kind::Sales),
            ("FieldServiceEngineer", Kind::Sales),
            ("MarketingSpecialist", Kind::Office),
        ],
    },
    UnitSpec {
        name: "5 - Administration",
        weight: 0.12,
        depts: &["1 - HumanResources", "2 - Finance", "3 - Legal"],
        roles: &[
            ("HumanResourceSpecialist", Kind::Hr),
            ("Accountant", Kind::Office),
            ("Attorney", Kind::Office),
            ("AdministrativeAssistant", Kind::Office),
            ("Secretary", Kind::Office),
        ],
    },
    UnitSpec {
        name: "6 - InformationTechnology",
        weight: 0.10,
        depts: &["1 - Operations", "2 - HelpDesk", "3 - Security"],
        roles: &[
            ("ITAdmin", Kind::ItAdmin),
            ("ITAdmin", Kind::ItAdmin),
            ("ComputerProgrammer", Kind::Engineer),
        ],
    },
    UnitSpec {
        name: "7 - PurchasingAndContracts",
        weight: 0.10,
        depts: &["1 - Purchasing", "2 - Contracts"],
        roles: &[
            ("PurchasingClerk", Kind::Office),
            ("ContractsSpecialist", Kind::Office),
        ],
    },
];
const IT_UNIT: usize = 4;
// Packed by hand: one name per line would be most of the file.
#[rustfmt::skip]
const TEAMS: &[&str] = &[
    "Core", "Platform", "Field", "Systems", "Operations", "Projects", "Analysis", "Support",
    "Quality", "Delivery", "Programs", "Services",
];

// ---------------------------------------------------------------------------------------------
// The organisation

/// One employee and their habits.
struct Person {
    id: String,
    name: String,
    email: String,
    personal_email: String,
    role: &'static str,
    kind: Kind,
    unit: String,
    dept: String,
    team: String,
    team_key: usize,
    projects: String,
    supervisor: Option<usize>,
    leader: bool,
    pc: usize,
    first_day: usize,
    /// Exclusive: the first day they no longer work here.
    last_day: usize,
    psych: [u8; 5],
    arrive: f64,
    arrive_sd: f64,
    hours: f64,
    weekend_p: f64,
    evening_p: f64,
    lunch_p: f64,
    http_rate: f64,
    sites: Vec<String>,
    site_cum: Vec<f64>,
    email_rate: f64,
    external_share: f64,
    view_rate: f64,
    file_rate: f64,
    contacts: Vec<usize>,
    externals: Vec<String>,
    docs: Vec<String>,
    thumb_rate: f64,
    drive: String,
    shared_p: f64,
    admin_visits: f64,
    field_p: f64,
    webmail_p: f64,
    webmail_site: String,
    personal_mail_p: f64,
    job_p: f64,
    cloud_p: f64,
    cloud_site: String,
    leak_read_p: f64,
    hacking_p: f64,
    announce_p: f64,
    /// The chance of a workday on which they send documents to a web site ([`Sim::uploads`]).
    upload_p: f64,
    off: Vec<bool>,
    job_hunt_from: Option<usize>,
    farewell_copy: bool,
}

impl Person {
    fn employed(&self, day: usize) -> bool {
        day >= self.first_day && day < self.last_day
    }
}

/// One insider's plan.
struct Plan {
    person: usize,
    scenario: u8,
    intensity: f64,
    /// Window of days `[from, to]`.
    from: usize,
    to: usize,
    /// Scenario 3: the supervisor, and the day of the mass e-mail.
    victim: Option<usize>,
    strike: usize,
    /// Uses listed domains (else unlisted ones).
    listed: f64,
}

/// One activity row waiting to be written.
struct Row {
    time: i64,
    source: usize,
    text: String,
    insider: Option<usize>,
}

struct Sim<'a> {
    cfg: &'a SimConfig,
    cats: &'a Categories,
    people: Vec<Person>,
    pcs: Vec<String>,
    shared: Vec<usize>,
    tail: Vec<String>,
    plans: Vec<Plan>,
    insider_of: Vec<Option<usize>>,
    holidays: Vec<bool>,
    rows: Vec<Row>,
}

fn source_index(s: Source) -> usize {
    match s {
        Source::Logon => 0,
        Source::Device => 1,
        Source::Http => 2,
        Source::Email => 3,
        Source::File => 4,
    }
}

const FILES: [(Source, &str, &str); 5] = [
    (Source::Logon, "logon", "id,date,user,pc,activity"),
    (
        Source::Device,
        "device",
        "id,date,user,pc,file_tree,activity",
    ),
    (Source::Http, "http", "id,date,user,pc,url,content"),
    (
        Source::Email,
        "email",
        "id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content",
    ),
    (
        Source::File,
        "file",
        "id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content",
    ),
];

/// Monday = 0.
fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// US federal-style holidays the company closes on.
fn is_holiday(day: i64) -> bool {
    let (_, m, d) = time::civil_from_days(day);
    let wd = weekday(day);
    let nth = (d - 1) / 7 + 1;
    let last = time::civil_from_days(day + 7).1 != m;
    matches!((m, d), (1, 1) | (7, 4) | (12, 24) | (12, 25) | (12, 31))
        || (m == 5 && wd == 0 && last)
        || (m == 9 && wd == 0 && nth == 1)
        || (m == 11 && wd == 3 && nth == 4)
        || (m == 11 && wd == 4 && (d - 2) / 7 + 1 == 4)
}

impl<'a> Sim<'a> {
    fn new(cfg: &'a SimConfig, per: usize, cats: &'a Categories) -> Self {
        let holidays = (0..cfg.days)
            .map(|d| is_holiday(cfg.start_day + d as i64))
            .collect();
        let mut sim = Sim {
            cfg,
            cats,
            people: Vec::new(),
            pcs: Vec::new(),
            shared: Vec::new(),
            tail: Vec::new(),
            plans: Vec::new(),
            insider_of: Vec::new(),
            holidays,
            rows: Vec::new(),
        };
        let mut rng = Rng::derive(cfg.seed, 1, 0, 0);
        sim.tail_domains(&mut rng);
        let admins_needed = if cfg.scenarios.contains(&3) {
            per + 2
        } else {
            2
        };
        sim.organisation(&mut rng, admins_needed);
        sim.habits(&mut rng);
        sim.departures(&mut rng);
        let mut rng = Rng::derive(cfg.seed, 2, 0, 0);
        sim.insiders(&mut rng, per);
        sim.insider_of = vec![None; sim.people.len()];
        for (i, p) in sim.plans.iter().enumerate() {
            sim.insider_of[p.person] = Some(i);
        }
        sim
    }

    fn tail_domains(&mut self, rng: &mut Rng) {
        while self.tail.len() < 300 {
            let mut d = String::new();
            for _ in 0..rng.int(2, 3) {
                d.push_str(rng.pick_str(SYLLABLES));
            }
            d.push_str(rng.pick_str(TLDS));
            if self.cats.classify_url(&d).is_none() && !self.tail.contains(&d) {
                self.tail.push(d);
            }
        }
    }

    fn new_pc(&mut self, rng: &mut Rng, used: &mut [bool]) -> usize {
        loop {
            let n = rng.below(10_000);
            if !used[n] {
                used[n] = true;
                self.pcs.push(format!("PC-{n:04}"));
                return self.pcs.len() - 1;
            }
        }
    }

    fn organisation(&mut self, rng: &mut Rng, admins_needed: usize) {
        let n = self.cfg.users;
        let mut names = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        let mut pcs_used = vec![false; 10_000];
        // Unit sizes: by weight, the IT unit at least what scenario 3 needs.
        let rest = n - 1;
        let mut sizes: Vec<usize> = UNITS
            .iter()
            .map(|u| (u.weight * rest as f64) as usize)
            .collect();
        let short = rest - sizes.iter().sum::<usize>();
        sizes[0] += short;
        let it_need = admins_needed * 2 + 2;
        if sizes[IT_UNIT] < it_need {
            let moved = (it_need - sizes[IT_UNIT]).min(sizes[0].saturating_sub(1));
            sizes[0] -= moved;
            sizes[IT_UNIT] += moved;
        }
        let mut add = |sim: &mut Self,
                       rng: &mut Rng,
                       role: &'static str,
                       kind: Kind,
                       unit: String,
                       dept: String,
                       team: String,
                       supervisor: Option<usize>,
                       leader: bool| {
            let (first, middle, last) = loop {
                let f = *rng.pick(FIRST);
                let m = *rng.pick(FIRST);
                let l = *rng.pick(LAST);
                if f != m && names.insert(format!("{f} {m} {l}")) {
                    break (f, m, l);
                }
            };
            let id = loop {
                let id = format!(
                    "{}{}{}{:04}",
                    &first[..1],
                    &middle[..1],
                    &last[..1],
                    rng.int(1, 9999)
                );
                if ids.insert(id.clone()) {
                    break id;
                }
            };
            let personal_domain = if rng.chance(0.8) {
                rng.pick(sim.cats.personal_email()).clone()
            } else {
                rng.pick(UNLISTED_PERSONAL).to_string()
            };
            let personal_email = match rng.below(3) {
                0 => format!("{first}.{last}@{personal_domain}"),
                1 => format!(
                    "{}{}{}@{personal_domain}",
                    &first[..1],
                    last,
                    rng.int(1, 99)
                ),
                _ => format!("{first}_{last}{}@{personal_domain}", rng.int(1, 999)),
            }
            .to_ascii_lowercase();
            let pc = sim.new_pc(rng, &mut pcs_used);
            sim.people.push(Person {
                id,
                name: format!("{first} {middle} {last}"),
                email: format!("{first}.{middle}.{last}@{COMPANY}"),
                personal_email,
                role,
                kind,
                unit,
                dept,
                team,
                team_key: 0,
                projects: String::new(),
                supervisor,
                leader,
                pc,
                first_day: 0,
                last_day: sim.cfg.days,
                psych: [0; 5],
                arrive: 8.0,
                arrive_sd: 0.3,
                hours: 8.5,
                weekend_p: 0.0,
                evening_p: 0.0,
                lunch_p: 0.0,
                http_rate: 0.0,
                sites: Vec::new(),
                site_cum: Vec::new(),
                email_rate: 0.0,
                external_share: 0.0,
                view_rate: 0.0,
                file_rate: 0.0,
                contacts: Vec::new(),
                externals: Vec::new(),
                docs: Vec::new(),
                thumb_rate: 0.0,
                drive: String::new(),
                shared_p: 0.0,
                admin_visits: 0.0,
                field_p: 0.0,
                webmail_p: 0.0,
                webmail_site: String::new(),
                personal_mail_p: 0.0,
                job_p: 0.0,
                cloud_p: 0.0,
                cloud_site: String::new(),
                leak_read_p: 0.0,
                hacking_p: 0.0,
                announce_p: 0.0,
                upload_p: 0.0,
                off: Vec::new(),
                job_hunt_from: None,
                farewell_copy: false,
            });
            sim.people.len() - 1
        };
        let president = add(
            self,
            rng,
            "President",
            Kind::Executive,
            "1 - Executive".into(),
            String::new(),
            String::new(),
            None,
            true,
        );
        let mut team_key = 1;
        for (u, spec) in UNITS.iter().enumerate() {
            let size = sizes[u];
            if size == 0 {
                continue;
            }
            let head = add(
                self,
                rng,
                "VicePresident",
                Kind::Executive,
                spec.name.into(),
                String::new(),
                String::new(),
                Some(president),
                true,
            );
            let members = size - 1;
            let depts = members.div_ceil(20).clamp(1, spec.depts.len());
            let base = members / depts;
            for d in 0..depts {
                let dsize = if d + 1 == depts {
                    members - base * d
                } else {
                    base
                };
                if dsize == 0 {
                    continue;
                }
                let dept = spec.depts[d].to_string();
                let manager = add(
                    self,
                    rng,
                    "Manager",
                    Kind::Manager,
                    spec.name.into(),
                    dept.clone(),
                    String::new(),
                    Some(head),
                    true,
                );
                let staff = dsize - 1;
                let teams = staff.div_ceil(8).max(1);
                let tbase = staff / teams;
                for t in 0..teams {
                    let tsize = if t + 1 == teams {
                        staff - tbase * t
                    } else {
                        tbase
                    };
                    let team = format!("{} - {}", t + 1, TEAMS[t % TEAMS.len()]);
                    let mut lead = None;
                    for _ in 0..tsize {
                        let (role, kind) = *rng.pick(spec.roles);
                        let sup = lead.unwrap_or(manager);
                        let i = add(
                            self,
                            rng,
                            role,
                            kind,
                            spec.name.into(),
                            dept.clone(),
                            team.clone(),
                            Some(sup),
                            lead.is_none() && tsize > 2,
                        );
                        self.people[i].team_key = team_key;
                        if lead.is_none() && tsize > 2 {
                            lead = Some(i);
                        }
                    }
                    team_key += 1;
                }
            }
        }
        let shared = (n / 25).max(2);
        for _ in 0..shared {
            let pc = self.new_pc(rng, &mut pcs_used);
            self.shared.push(pc);
        }
    }

    fn habits(&mut self, rng: &mut Rng) {
        let n = self.people.len();
        let ordinary = self.cats.domains(Category::Ordinary).to_vec();
        let webmail = self.cats.domains(Category::Webmail).to_vec();
        let cloud = self.cats.domains(Category::CloudStorage).to_vec();
        let days = self.cfg.days;
        for i in 0..n {
            let kind = self.people[i].kind;
            let s = rng.spread(0.3);
            let p = &mut self.people[i];
            let (arrive, hours, http, email, files) = match kind {
                Kind::Executive => (7.6, 9.8, 1.2, 12.0, 5.0),
                Kind::Manager => (7.9, 9.3, 1.5, 9.0, 6.0),
                Kind::ItAdmin => (7.8, 9.0, 2.5, 4.0, 6.0),
                Kind::Engineer => (8.7, 8.8, 2.5, 3.5, 10.0),
                Kind::Sales => (8.2, 8.8, 2.0, 8.0, 5.0),
                Kind::Office | Kind::Hr => (8.3, 8.3, 2.0, 5.0, 8.0),
                Kind::Production => (6.2, 8.2, 0.5, 1.0, 1.5),
            };
            p.arrive = arrive + rng.normal() * 0.5;
            p.arrive_sd = rng.range(0.1, 0.5);
            p.hours = hours + rng.normal() * 0.4;
            p.http_rate = http * s;
            p.email_rate = email * rng.spread(0.4);
            p.view_rate = p.email_rate * rng.range(1.0, 2.0);
            p.file_rate = files * rng.spread(0.5);
            p.external_share = match kind {
                Kind::Sales => rng.range(0.4, 0.7),
                Kind::Executive | Kind::Manager => rng.range(0.1, 0.3),
                _ => rng.range(0.02, 0.15),
            };
            p.weekend_p = match kind {
                Kind::Executive | Kind::Manager | Kind::ItAdmin => rng.range(0.02, 0.15),
                _ if rng.chance(0.2) => rng.range(0.02, 0.1),
                _ => 0.0,
            };
            p.evening_p = match kind {
                Kind::ItAdmin | Kind::Executive => rng.range(0.02, 0.12),
                _ if rng.chance(0.25) => rng.range(0.01, 0.08),
                _ => 0.0,
            };
            p.lunch_p = rng.range(0.0, 0.6);
            p.thumb_rate = match kind {
                Kind::ItAdmin if rng.chance(0.6) => rng.range(0.2, 1.5),
                Kind::Engineer | Kind::Sales if rng.chance(0.3) => rng.range(0.05, 0.6),
                _ if rng.chance(0.1) => rng.range(0.03, 0.3),
                _ => 0.0,
            };
            p.shared_p = match kind {
                Kind::Production => rng.range(0.3, 0.8),
                Kind::Engineer => rng.range(0.0, 0.15),
                _ => rng.range(0.0, 0.05),
            };
            p.admin_visits = if kind == Kind::ItAdmin {
                rng.range(1.0, 6.0)
            } else {
                0.0
            };
            p.field_p = if kind == Kind::Sales {
                rng.range(0.05, 0.25)
            } else {
                0.0
            };
            p.webmail_p = if rng.chance(0.45) {
                rng.range(0.05, 0.4)
            } else {
                0.0
            };
            p.webmail_site = rng.pick(&webmail).clone();
            p.personal_mail_p = if rng.chance(0.15) {
                rng.range(0.01, 0.06)
            } else {
                0.0
            };
            p.job_p = match kind {
                Kind::Hr => rng.range(0.3, 0.8),
                _ if rng.chance(0.1) => rng.range(0.005, 0.03),
                _ => 0.0,
            };
            p.cloud_p = match kind {
                Kind::Sales | Kind::Engineer if rng.chance(0.3) => rng.range(0.03, 0.3),
                _ if rng.chance(0.08) => rng.range(0.02, 0.15),
                _ => 0.0,
            };
            p.cloud_site = if rng.chance(0.85) {
                rng.pick(&cloud).clone()
            } else {
                rng.pick(UNLISTED_CLOUD).to_string()
            };
            p.leak_read_p = if rng.chance(0.03) {
                rng.range(0.005, 0.03)
            } else {
                0.0
            };
            p.hacking_p = match kind {
                Kind::ItAdmin if rng.chance(0.35) => rng.range(0.01, 0.06),
                _ if rng.chance(0.01) => rng.range(0.005, 0.02),
                _ => 0.0,
            };
            p.announce_p = match kind {
                Kind::Executive | Kind::Manager => rng.range(0.01, 0.05),
                _ => 0.0,
            };
            // From a stream of its own, as the uploads are: a seed's other rows stay what they
            // were before benign uploads were simulated.
            let mut side = Rng::derive(self.cfg.seed, 6, i as u64, 0);
            p.upload_p = if side.chance(0.4) {
                side.range(0.003, 0.03)
            } else {
                0.0
            };
            for (k, v) in p.psych.iter_mut().enumerate() {
                let mean = if k == 3 { 30.0 } else { 28.0 };
                *v = (mean + rng.normal() * 7.0).clamp(10.0, 50.0) as u8;
            }
            if matches!(kind, Kind::Engineer | Kind::Sales) && rng.chance(0.6) {
                let k = rng.int(1, 2);
                let ps: Vec<String> = (0..k)
                    .map(|_| format!("Project {}", rng.int(1, 30)))
                    .collect();
                p.projects = ps.join(";");
            }
            // Favourite sites: Zipf-weighted, some of them in no list.
            let k = rng.int(8, 35) as usize;
            let mut sites: Vec<String> = Vec::with_capacity(k + 8);
            while sites.len() < k {
                // Popular sites are everybody's: bias the draw to the front of the list.
                let idx = ((rng.unit().powf(2.0)) * ordinary.len() as f64) as usize;
                let d = &ordinary[idx.min(ordinary.len() - 1)];
                if !sites.contains(d) {
                    sites.push(d.clone());
                }
            }
            for _ in 0..rng.int(2, 10) {
                let d = rng.pick(&self.tail).clone();
                if !sites.contains(&d) {
                    sites.insert(rng.below(sites.len() + 1), d);
                }
            }
            if kind == Kind::ItAdmin {
                sites.insert(rng.below(4), rng.pick(ADMIN_TOOLS).to_string());
            }
            let mut acc = 0.0;
            p.site_cum = (0..sites.len())
                .map(|r| {
                    acc += 1.0 / (r as f64 + 1.0).powf(1.1);
                    acc
                })
                .collect();
            p.sites = sites;
            // Documents on C:, a drive's folders.
            let nd = rng.int(20, 120);
            let mut docs = Vec::with_capacity(nd as usize);
            let dirs: Vec<String> = (0..rng.int(2, 6))
                .map(|_| {
                    let mut s = String::new();
                    rng.alnum(8, &mut s);
                    s
                })
                .collect();
            for _ in 0..nd {
                let mut f = format!("C:\\{}\\", rng.pick(&dirs));
                rng.alnum(8, &mut f);
                f.push_str(rng.pick_str(&[".doc", ".doc", ".pdf", ".txt", ".jpg", ".zip", ".doc"]));
                docs.push(f);
            }
            p.docs = docs;
            let mut drive = String::from("R:\\");
            for _ in 0..rng.int(1, 4) {
                drive.push_str(";R:\\");
                if rng.chance(0.3) {
                    drive.push_str(rng.pick_str(&["Photos", "Docs", "Backup", "Music"]));
                } else {
                    rng.alnum(5, &mut drive);
                }
            }
            p.drive = drive;
            p.externals = (0..match kind {
                Kind::Sales => rng.int(15, 50),
                Kind::Production => rng.int(0, 3),
                _ => rng.int(3, 15),
            })
                .map(|_| {
                    format!(
                        "{}_{}@{}",
                        rng.pick(FIRST),
                        rng.pick(LAST),
                        rng.pick(PARTNERS)
                    )
                })
                .collect();
            p.off = vec![false; days];
        }
        // Contacts: the team, the supervisor, the department, a few others.
        for i in 0..n {
            let mut c: Vec<usize> = Vec::new();
            let me = &self.people[i];
            for (j, q) in self.people.iter().enumerate() {
                if j == i {
                    continue;
                }
                let near = (q.team_key == me.team_key && me.team_key != 0)
                    || me.supervisor == Some(j)
                    || q.supervisor == Some(i);
                let dept = q.dept == me.dept && q.unit == me.unit && !me.dept.is_empty();
                if near || (dept && rng.chance(0.3)) {
                    c.push(j);
                }
            }
            for _ in 0..rng.int(2, 8) {
                let j = rng.below(n);
                if j != i && !c.contains(&j) {
                    c.push(j);
                }
            }
            self.people[i].contacts = c;
        }
        // Vacations and sick days.
        for p in &mut self.people {
            let blocks = rng.poisson(days as f64 / 110.0);
            for _ in 0..blocks {
                let from = rng.below(days);
                let len = rng.int(3, 12) as usize;
                for d in from..(from + len).min(days) {
                    p.off[d] = true;
                }
            }
            for d in 0..days {
                if rng.chance(0.015) {
                    p.off[d] = true;
                }
            }
        }
    }

    /// Benign departures (with job hunting or a farewell copy for some) and late hires.
    fn departures(&mut self, rng: &mut Rng) {
        let days = self.cfg.days;
        let leave_p = 1.0 - 0.99f64.powf(days as f64 / 30.0);
        for p in &mut self.people {
            if p.leader {
                continue;
            }
            if rng.chance(leave_p) {
                p.last_day = rng.int((days / 5) as i64, days as i64 - 1).max(1) as usize;
                if rng.chance(0.5) {
                    p.job_hunt_from = Some(p.last_day.saturating_sub(rng.int(10, 40) as usize));
                }
                p.farewell_copy = rng.chance(0.25);
            } else if rng.chance(0.03) && days > 4 {
                p.first_day = rng.int(1, (days / 2) as i64) as usize;
            }
        }
    }

    fn workday(&self, day: usize) -> bool {
        weekday(self.cfg.start_day + day as i64) < 5 && !self.holidays[day]
    }

    /// A workday in `lo..=hi` (the nearest after `lo` when the draw is not one).
    fn workday_in(&self, rng: &mut Rng, lo: usize, hi: usize) -> usize {
        let hi = hi.min(self.cfg.days - 1).max(lo);
        let mut d = rng.int(lo as i64, hi as i64) as usize;
        while d < hi && !self.workday(d) {
            d += 1;
        }
        d
    }

    fn insiders(&mut self, rng: &mut Rng, per: usize) {
        let days = self.cfg.days;
        let half = days / 2;
        let mut taken = vec![false; self.people.len()];
        let mut scenarios = self.cfg.scenarios.clone();
        scenarios.sort_unstable();
        scenarios.dedup();
        for &sc in &scenarios {
            for _ in 0..per {
                let eligible: Vec<usize> = (0..self.people.len())
                    .filter(|&i| {
                        let p = &self.people[i];
                        !taken[i]
                            && !p.leader
                            && p.first_day == 0
                            && p.supervisor.is_some()
                            && match sc {
                                3 => p.kind == Kind::ItAdmin,
                                5 => p.team_key != 0,
                                _ => p.kind != Kind::ItAdmin,
                            }
                    })
                    .collect();
                // Fall back to anyone not taken (tiny organisations).
                let pool: Vec<usize> = if eligible.is_empty() {
                    (0..self.people.len())
                        .filter(|&i| !taken[i] && !self.people[i].leader)
                        .collect()
                } else {
                    eligible
                };
                let Some(&who) = pool.get(rng.below(pool.len())) else {
                    continue;
                };
                taken[who] = true;
                let intensity = rng.range(0.25, 1.0);
                let scale = |lo: i64, hi: i64, rng: &mut Rng| {
                    (rng.int(lo, hi) as usize).min((days - half) * 2 / 3).max(3)
                };
                let len = match sc {
                    1 => scale(5, 14, rng),
                    2 => scale(20, 60, rng),
                    3 => scale(2, 5, rng),
                    4 => scale(30, 90, rng),
                    _ => scale(7, 30, rng),
                };
                let latest = days.saturating_sub(len + 2).max(half);
                let from = self.workday_in(rng, half, latest);
                let to = (from + len).min(days - 1);
                let mut plan = Plan {
                    person: who,
                    scenario: sc,
                    intensity,
                    from,
                    to,
                    victim: None,
                    strike: to,
                    listed: rng.range(0.5, 1.0),
                };
                let p = &mut self.people[who];
                p.last_day = days;
                p.job_hunt_from = None;
                p.farewell_copy = false;
                // The plans act during a day at the office: no field days.
                p.field_p = 0.0;
                match sc {
                    1 => {
                        // "Did not previously use removable drives or work after hours."
                        p.thumb_rate = 0.0;
                        p.evening_p = 0.0;
                        p.weekend_p = p.weekend_p.min(0.02);
                        if rng.chance(0.7) {
                            p.last_day = (to + rng.int(2, 7) as usize).min(days);
                        }
                    }
                    2 => p.last_day = (to + 1).min(days),
                    3 => {
                        plan.victim = p.supervisor;
                        plan.strike = (from + rng.int(1, 3) as usize).min(days - 1);
                        plan.to = plan.strike;
                        p.psych[3] = p.psych[3].saturating_sub(6).max(10);
                        p.last_day = (plan.strike + 1).min(days);
                    }
                    4 => {
                        if rng.chance(0.3) {
                            p.last_day = (to + rng.int(3, 10) as usize).min(days);
                        }
                    }
                    _ => {
                        p.last_day = (to + 1).min(days);
                        // The layoff takes part of the team on the same day.
                        let team = p.team_key;
                        let day = p.last_day;
                        for (j, q) in self.people.iter_mut().enumerate() {
                            if j != who
                                && q.team_key == team
                                && !q.leader
                                && !taken[j]
                                && rng.chance(0.6)
                            {
                                q.last_day = q.last_day.min(day);
                            }
                        }
                    }
                }
                // No vacation in the insider's window: the plan needs them at work.
                let p = &mut self.people[who];
                for d in plan.from..=plan.to.min(days - 1) {
                    p.off[d] = false;
                }
                self.plans.push(plan);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Rows

    #[allow(clippy::too_many_arguments)]
    fn push_row(
        &mut self,
        rng: &mut Rng,
        s: Source,
        t: i64,
        user: usize,
        pc: usize,
        rest: &str,
        insider: Option<usize>,
    ) {
        let mut text = String::with_capacity(64 + rest.len());
        text.push('{');
        rng.alnum(4, &mut text);
        text.push('-');
        rng.alnum(8, &mut text);
        text.push('-');
        rng.alnum(8, &mut text);
        text.push_str("},");
        text.push_str(&time::format(t));
        text.push(',');
        text.push_str(&self.people[user].id);
        text.push(',');
        text.push_str(&self.pcs[pc]);
        text.push(',');
        text.push_str(rest);
        self.rows.push(Row {
            time: t,
            source: source_index(s),
            text,
            insider,
        });
    }

    fn words(rng: &mut Rng, lo: i64, hi: i64) -> String {
        let mut s = String::new();
        for i in 0..rng.int(lo, hi) {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(rng.pick_str(WORDS));
        }
        s
    }

    fn url(rng: &mut Rng, domain: &str, path: Option<&str>) -> String {
        let mut u = format!("http://{domain}/");
        match path {
            Some(p) => u.push_str(p),
            None => {
                u.push_str(rng.pick_str(PAGE_WORDS));
                u.push('/');
            }
        }
        if rng.chance(0.5) {
            let w = rng.pick(WORDS);
            u.push_str(w);
            u.push('_');
        }
        u.push_str(rng.pick_str(WORDS));
        u.push_str(rng.pick_str(&[".htm", ".html", ".php", ".aspx", ".jsp", ".htm"]));
        u
    }

    fn http(&mut self, rng: &mut Rng, t: i64, u: usize, pc: usize, url: &str, ins: Option<usize>) {
        let rest = format!("{url},{}", Self::words(rng, 3, 10));
        self.push_row(rng, Source::Http, t, u, pc, &rest, ins);
    }

    fn file_content(rng: &mut Rng, name: &str) -> String {
        let magic = match name.rsplit('.').next().unwrap_or("") {
            "doc" => "D0-CF-11-E0-A1-B1-1A-E1 ",
            "pdf" => "25-50-44-46-2D ",
            "zip" => "50-4B-03-04-14-00-06-00 ",
            "jpg" => "FF-D8-FF-E0 ",
            "exe" => "4D-5A-90-00-03-00-00-00 ",
            _ => "",
        };
        format!("{magic}{}", Self::words(rng, 3, 10))
    }

    #[allow(clippy::too_many_arguments)]
    fn file(
        &mut self,
        rng: &mut Rng,
        t: i64,
        u: usize,
        pc: usize,
        name: &str,
        activity: &str,
        to_r: bool,
        from_r: bool,
        ins: Option<usize>,
    ) {
        let tf = |b: bool| if b { "True" } else { "False" };
        let rest = format!(
            "{name},{activity},{},{},{}",
            tf(to_r),
            tf(from_r),
            Self::file_content(rng, name)
        );
        self.push_row(rng, Source::File, t, u, pc, &rest, ins);
    }

    #[allow(clippy::too_many_arguments)]
    fn email(
        &mut self,
        rng: &mut Rng,
        t: i64,
        u: usize,
        pc: usize,
        head: [&str; 5],
        attachments: &[String],
        ins: Option<usize>,
    ) {
        let [to, cc, bcc, from, activity] = head;
        let mut att = String::new();
        let mut size = rng.int(2_000, 60_000);
        for a in attachments {
            let s = rng.int(10_000, 2_000_000);
            size += s;
            if !att.is_empty() {
                att.push(';');
            }
            let _ = write!(att, "{a}({s})");
        }
        let rest = format!(
            "{to},{cc},{bcc},{from},{activity},{size},{att},{}",
            Self::words(rng, 4, 15)
        );
        self.push_row(rng, Source::Email, t, u, pc, &rest, ins);
    }

    fn logon(&mut self, rng: &mut Rng, t: i64, u: usize, pc: usize, on: bool, ins: Option<usize>) {
        let a = if on { "Logon" } else { "Logoff" };
        self.push_row(rng, Source::Logon, t, u, pc, a, ins);
    }

    fn device(&mut self, rng: &mut Rng, t: i64, u: usize, pc: usize, on: bool, ins: Option<usize>) {
        let rest = if on {
            format!("{},Connect", self.people[u].drive)
        } else {
            ",Disconnect".to_string()
        };
        self.push_row(rng, Source::Device, t, u, pc, &rest, ins);
    }

    fn site(&self, rng: &mut Rng, u: usize) -> String {
        let p = &self.people[u];
        let total = p.site_cum.last().copied().unwrap_or(0.0);
        let x = rng.unit() * total;
        let i = p.site_cum.partition_point(|&c| c < x);
        p.sites
            .get(i)
            .or(p.sites.first())
            .cloned()
            .unwrap_or_else(|| "google.com".into())
    }

    fn recipient(&self, rng: &mut Rng, u: usize) -> String {
        let p = &self.people[u];
        if (rng.chance(p.external_share) || p.contacts.is_empty()) && !p.externals.is_empty() {
            return rng.pick(&p.externals).clone();
        }
        match p.contacts.get(rng.below(p.contacts.len())) {
            Some(&c) => self.people[c].email.clone(),
            None => self.people[0].email.clone(),
        }
    }

    fn at(&self, day: usize, hours: f64) -> i64 {
        (self.cfg.start_day + day as i64) * DAY + (hours * 3600.0).round() as i64
    }

    /// Ordinary activity in a session at `pc` between `a` and `b` (seconds).
    fn session(&mut self, rng: &mut Rng, u: usize, pc: usize, a: i64, b: i64, main: bool) {
        let hours = (b - a) as f64 / 3600.0;
        if hours <= 0.0 {
            return;
        }
        let within = |rng: &mut Rng| a + (rng.unit() * (b - a) as f64) as i64;
        // Browsing comes in bursts on one site.
        let bursts = rng.poisson(self.people[u].http_rate * hours);
        for _ in 0..bursts {
            let site = self.site(rng, u);
            let mut t = within(rng);
            for _ in 0..1 + rng.poisson(1.5) {
                if t > b {
                    break;
                }
                let url = Self::url(rng, &site, None);
                self.http(rng, t, u, pc, &url, None);
                t += 5 + rng.exp(60.0) as i64;
            }
        }
        let p = &self.people[u];
        let share = hours / 8.0;
        let (sends, views, files) = (
            rng.poisson(p.email_rate * share),
            rng.poisson(p.view_rate * share),
            rng.poisson(p.file_rate * share),
        );
        let (email, personal) = (p.email.clone(), p.personal_email.clone());
        for _ in 0..sends {
            let t = within(rng);
            let mut to = self.recipient(rng, u);
            for _ in 0..rng.poisson(0.4) {
                let r = self.recipient(rng, u);
                if !to.split(';').any(|x| x == r) {
                    to.push(';');
                    to.push_str(&r);
                }
            }
            let cc = if rng.chance(0.2) {
                self.recipient(rng, u)
            } else {
                String::new()
            };
            let att: Vec<String> = if rng.chance(0.25) {
                (0..rng.int(1, 2))
                    .map(|_| rng.pick(&self.people[u].docs).clone())
                    .collect()
            } else {
                Vec::new()
            };
            self.email(rng, t, u, pc, [&to, &cc, "", &email, "Send"], &att, None);
        }
        for _ in 0..views {
            let t = within(rng);
            let from = self.recipient(rng, u);
            let att: Vec<String> = if rng.chance(0.15) {
                let mut f = String::from("C:\\");
                rng.alnum(8, &mut f);
                f.push_str(".pdf");
                vec![f]
            } else {
                Vec::new()
            };
            self.email(rng, t, u, pc, [&email, "", "", &from, "View"], &att, None);
        }
        for _ in 0..files {
            let t = within(rng);
            let doc = rng.pick(&self.people[u].docs).clone();
            let act = if rng.chance(0.7) {
                "File Open"
            } else if rng.chance(0.9) {
                "File Write"
            } else {
                "File Delete"
            };
            self.file(rng, t, u, pc, &doc, act, false, false, None);
        }
        if !main {
            return;
        }
        let p = &self.people[u];
        let specials = [
            (p.webmail_p, p.webmail_site.clone()),
            (p.cloud_p, p.cloud_site.clone()),
            (p.leak_read_p, "leak".to_string()),
            (p.hacking_p, "hacking".to_string()),
            (p.job_p, "job".to_string()),
        ];
        for (prob, what) in specials {
            if !rng.chance(prob) {
                continue;
            }
            let domain = match what.as_str() {
                "leak" => rng.pick(self.cats.domains(Category::Leak)).clone(),
                "hacking" => rng.pick(self.cats.domains(Category::Hacking)).clone(),
                "job" => self.job_site(rng, 0.8),
                d => d.to_string(),
            };
            let mut t = within(rng);
            for _ in 0..rng.int(1, 5) {
                let url = Self::url(rng, &domain, None);
                self.http(rng, t.min(b), u, pc, &url, None);
                t += 10 + rng.exp(90.0) as i64;
            }
        }
        let p = &self.people[u];
        if rng.chance(p.personal_mail_p) {
            let t = within(rng);
            let att = vec![rng.pick(&p.docs).clone()];
            self.email(
                rng,
                t,
                u,
                pc,
                [&personal, "", "", &email, "Send"],
                &att,
                None,
            );
        }
        let p = &self.people[u];
        if rng.chance(p.announce_p) {
            // A manager's note to the whole department (like scenario 3's mass mail, benign).
            let (unit, dept) = (p.unit.clone(), p.dept.clone());
            let all: Vec<String> = self
                .people
                .iter()
                .filter(|q| q.unit == unit && (dept.is_empty() || q.dept == dept))
                .map(|q| q.email.clone())
                .collect();
            let t = within(rng);
            let to = all.join(";");
            self.email(rng, t, u, pc, [&to, "", "", &email, "Send"], &[], None);
        }
        if self.people[u].thumb_rate > 0.0 {
            for _ in 0..rng.poisson(self.people[u].thumb_rate * share) {
                let t = within(rng);
                let end = (t + 60 + rng.exp(1200.0) as i64).min(b);
                let n = rng.int(1, 6) as usize;
                self.thumb(rng, u, pc, t, end, n, None);
            }
        }
    }

    /// A thumb drive at `pc` from `a` to `b` with `n` copies each way, mostly to the drive.
    #[allow(clippy::too_many_arguments)]
    fn thumb(
        &mut self,
        rng: &mut Rng,
        u: usize,
        pc: usize,
        a: i64,
        b: i64,
        n: usize,
        ins: Option<usize>,
    ) {
        self.device(rng, a, u, pc, true, ins);
        let b = b.max(a + 30);
        for _ in 0..n {
            let t = a + 1 + (rng.unit() * (b - a - 2) as f64) as i64;
            let doc = rng.pick(&self.people[u].docs).clone();
            if ins.is_some() || rng.chance(0.6) {
                let dest = format!("R:\\{}", doc.rsplit('\\').next().unwrap_or(&doc));
                self.file(rng, t, u, pc, &dest, "File Copy", true, false, ins);
            } else {
                let src = format!("R:\\{}", doc.rsplit('\\').next().unwrap_or(&doc));
                self.file(rng, t, u, pc, &src, "File Open", false, true, ins);
            }
        }
        self.device(rng, b, u, pc, false, ins);
    }

    fn job_site(&self, rng: &mut Rng, listed: f64) -> String {
        if rng.chance(listed) {
            rng.pick(self.cats.domains(Category::JobSearch)).clone()
        } else {
            rng.pick(UNLISTED_JOB).to_string()
        }
    }

    /// Documents a benign user sends to a web site on some workdays, each opened and then sent
    /// a moment later: to their cloud storage, or to a site new to them (an expense system, a
    /// conference, a customer's portal). The hard negative of a scenario 5 upload to a site the
    /// lists do not know. Drawn from a stream of their own, so that a seed's other rows are
    /// those it had before these were simulated.
    fn uploads(&mut self, u: usize, day: usize, (a, b): (i64, i64)) {
        let mut rng = Rng::derive(self.cfg.seed, 5, u as u64, day as u64);
        let p = &self.people[u];
        if b - a < 1800 || !rng.chance(p.upload_p) {
            return;
        }
        let site = if p.cloud_p > 0.0 && rng.chance(0.5) {
            p.cloud_site.clone()
        } else {
            rng.pick(&self.tail).clone()
        };
        let (pc, docs) = (p.pc, p.docs.clone());
        let mut t = a + (rng.unit() * (b - a - 1200) as f64) as i64;
        for _ in 0..rng.int(1, 4) {
            if t + 60 > b {
                break;
            }
            let doc = rng.pick(&docs).clone();
            self.file(&mut rng, t, u, pc, &doc, "File Open", false, false, None);
            let url = Self::url(&mut rng, &site, None);
            let sent = t + rng.int(5, 60);
            self.http(&mut rng, sent, u, pc, &url, None);
            t += 60 + rng.exp(600.0) as i64;
        }
    }

    /// One user's ordinary day; returns their main session at their PC, when they work.
    fn benign_day(&mut self, rng: &mut Rng, u: usize, day: usize) -> Option<(i64, i64)> {
        let p = &self.people[u];
        if p.off[day] {
            return None;
        }
        let own = p.pc;
        if !self.workday(day) {
            if !rng.chance(p.weekend_p) {
                return None;
            }
            let a = self.at(day, rng.range(9.0, 15.0));
            let b = a + (rng.range(0.5, 4.0) * 3600.0) as i64;
            self.logon(rng, a, u, own, true, None);
            self.session(rng, u, own, a, b, false);
            self.logon(rng, b, u, own, false, None);
            return None;
        }
        if rng.chance(p.field_p) {
            return None;
        }
        let arrive = p.arrive + rng.normal() * p.arrive_sd;
        let leave = arrive + p.hours + rng.normal() * 0.4;
        let (a, b) = (self.at(day, arrive.max(4.0)), self.at(day, leave.min(23.5)));
        let (lunch_p, shared_p, visits, evening_p) =
            (p.lunch_p, p.shared_p, p.admin_visits, p.evening_p);
        self.logon(rng, a, u, own, true, None);
        if rng.chance(lunch_p) {
            let l = self.at(day, rng.range(11.5, 13.0));
            let back = l + (rng.range(0.3, 1.0) * 3600.0) as i64;
            if l > a && back < b {
                self.session(rng, u, own, a, l, true);
                self.logon(rng, l, u, own, false, None);
                self.logon(rng, back, u, own, true, None);
                self.session(rng, u, own, back, b, false);
            } else {
                self.session(rng, u, own, a, b, true);
            }
        } else {
            self.session(rng, u, own, a, b, true);
        }
        // Now and then a logoff is lost (a crash, a power cut), as in the real data.
        if !rng.chance(0.01) {
            self.logon(rng, b, u, own, false, None);
        }
        if rng.chance(shared_p) && !self.shared.is_empty() {
            let pc = *rng.pick(&self.shared);
            let s = a + (rng.unit() * (b - a) as f64 * 0.8) as i64;
            let e = (s + (rng.range(0.2, 2.0) * 3600.0) as i64).min(b);
            self.logon(rng, s, u, pc, true, None);
            self.session(rng, u, pc, s, e, false);
            self.logon(rng, e, u, pc, false, None);
        }
        // IT admins fix other people's PCs.
        for _ in 0..rng.poisson(visits) {
            let other = rng.below(self.people.len());
            let pc = if rng.chance(0.8) {
                self.people[other].pc
            } else {
                *rng.pick(&self.shared)
            };
            let s = a + (rng.unit() * (b - a) as f64) as i64;
            let e = s + 120 + rng.exp(900.0) as i64;
            self.logon(rng, s, u, pc, true, None);
            if rng.chance(0.2) {
                self.thumb(rng, u, pc, s + 30, e - 10, 1, None);
            }
            self.logon(rng, e, u, pc, false, None);
        }
        if rng.chance(evening_p) {
            let s = self.at(day, rng.range(19.0, 23.0));
            let e = s + (rng.range(0.2, 1.5) * 3600.0) as i64;
            self.logon(rng, s, u, own, true, None);
            self.session(rng, u, own, s, e, false);
            self.logon(rng, e, u, own, false, None);
        }
        let p = &self.people[u];
        // Leavers: a job search before, personal files to a drive on the last day.
        if p.job_hunt_from.is_some_and(|f| day >= f) && rng.chance(0.5) {
            let site = self.job_site(rng, 0.8);
            let mut t = a + (rng.unit() * (b - a) as f64) as i64;
            for _ in 0..rng.int(1, 6) {
                let url = Self::url(rng, &site, None);
                self.http(rng, t.min(b), u, own, &url, None);
                t += 20 + rng.exp(120.0) as i64;
            }
        }
        let p = &self.people[u];
        if p.farewell_copy && day + 1 == p.last_day {
            let t = b - 1800;
            let n = rng.int(5, 20) as usize;
            self.thumb(rng, u, own, t, b - 60, n, None);
        }
        Some((a, b))
    }

    // -----------------------------------------------------------------------------------------
    // The scenarios

    fn malicious(&mut self, rng: &mut Rng, k: usize, day: usize, work: Option<(i64, i64)>) {
        let plan = &self.plans[k];
        if day < plan.from || day > plan.to {
            return;
        }
        let (u, sc, x, listed) = (plan.person, plan.scenario, plan.intensity, plan.listed);
        let (from, strike, victim) = (plan.from, plan.strike, plan.victim);
        let progress = (day - plan.from) as f64 / (plan.to - plan.from).max(1) as f64;
        let own = self.people[u].pc;
        let ins = Some(k);
        let work = work.unwrap_or_else(|| (self.at(day, 9.0), self.at(day, 17.0)));
        let within = |rng: &mut Rng| work.0 + (rng.unit() * (work.1 - work.0) as f64) as i64;
        match sc {
            1 => {
                // After-hours visits: copy to a thumb drive, upload to a leak site.
                let first = day == from;
                if !first && !rng.chance(0.25 + 0.5 * x) {
                    return;
                }
                let s = self.at(day, rng.range(20.0, 26.5));
                let e = s + (rng.range(0.3, 1.5) * 3600.0) as i64;
                self.logon(rng, s, u, own, true, ins);
                let n = 3 + (rng.unit() * 25.0 * x) as usize;
                let mid = s + (e - s) / 2;
                self.thumb(rng, u, own, s + 60, mid, n, ins);
                if first || rng.chance(0.7) {
                    let site = if rng.chance(listed) {
                        rng.pick(self.cats.domains(Category::Leak)).clone()
                    } else {
                        rng.pick(UNLISTED_LEAK).to_string()
                    };
                    let mut t = mid + 60;
                    for _ in 0..rng.int(1, 4) {
                        let path = *rng.pick(&["submit/", "upload/", "drop/", ""]);
                        let url = Self::url(rng, &site, Some(path));
                        self.http(rng, t.min(e - 1), u, own, &url, ins);
                        t += 30 + rng.exp(200.0) as i64;
                    }
                }
                self.logon(rng, e, u, own, false, ins);
            }
            2 => {
                // Job hunting, rising; a thumb drive near the end, at rates never seen before.
                if day == from || (self.workday(day) && rng.chance(0.3 + 0.6 * progress * x)) {
                    let site = self.job_site(rng, listed);
                    let mut t = within(rng);
                    for _ in 0..rng.int(2, 4 + (8.0 * x) as i64) {
                        let url = Self::url(rng, &site, None);
                        self.http(rng, t.min(work.1), u, own, &url, ins);
                        t += 20 + rng.exp(150.0) as i64;
                    }
                    if rng.chance(0.15 * x) {
                        let to = format!(
                            "{}_{}@{}",
                            rng.pick(FIRST),
                            rng.pick(LAST),
                            rng.pick(PARTNERS)
                        );
                        let from = self.people[u].email.clone();
                        let cv = format!("C:\\{}\\resume.doc", self.people[u].id);
                        let t = within(rng);
                        self.email(rng, t, u, own, [&to, "", "", &from, "Send"], &[cv], ins);
                    }
                }
                if progress > 0.6 && self.workday(day) && rng.chance(0.4 + 0.5 * x) {
                    let t = within(rng);
                    let n = 5 + (rng.unit() * 40.0 * x) as usize;
                    let end = (t + 600 + rng.exp(1800.0) as i64).min(work.1.max(t + 700));
                    self.thumb(rng, u, own, t, end, n, ins);
                }
            }
            3 => {
                let Some(sup) = victim else {
                    return;
                };
                let spc = self.people[sup].pc;
                if day == from {
                    // The keylogger: downloaded, onto a drive, onto the supervisor's PC.
                    let site = if rng.chance(listed) {
                        rng.pick(self.cats.domains(Category::Hacking)).clone()
                    } else {
                        rng.pick(UNLISTED_HACKING).to_string()
                    };
                    let tool = *rng.pick(&["keylogger", "klg", "svchost32", "kbdmon", "spy"]);
                    let t = within(rng);
                    let url = format!("http://{site}/download/{tool}.exe");
                    self.http(rng, t, u, own, &url, ins);
                    self.device(rng, t + 120, u, own, true, ins);
                    let dest = format!("R:\\{tool}.exe");
                    self.file(rng, t + 150, u, own, &dest, "File Copy", true, false, ins);
                    self.device(rng, t + 240, u, own, false, ins);
                    let s = if rng.chance(0.5) {
                        self.at(day, rng.range(18.5, 21.0))
                    } else {
                        self.at(day, rng.range(12.0, 13.0))
                    };
                    self.logon(rng, s, u, spc, true, ins);
                    self.device(rng, s + 60, u, spc, true, ins);
                    let dst = format!("C:\\Windows\\System32\\{tool}.exe");
                    self.file(rng, s + 90, u, spc, &dest, "File Open", false, true, ins);
                    self.file(rng, s + 95, u, spc, &dst, "File Write", false, true, ins);
                    self.device(rng, s + 200, u, spc, false, ins);
                    self.logon(rng, s + 260, u, spc, false, ins);
                }
                if day == strike {
                    // As the supervisor, at their PC: an alarming e-mail to many.
                    let s = if rng.chance(0.6) {
                        self.at(day, rng.range(19.0, 23.0))
                    } else {
                        self.at(day, rng.range(6.0, 7.0))
                    };
                    self.logon(rng, s, u, spc, true, ins);
                    let n = self.people.len();
                    let want = ((n as f64) * rng.range(0.1, 0.5) * x).clamp(8.0, 300.0) as usize;
                    let mut to: Vec<String> = Vec::with_capacity(want);
                    for _ in 0..want {
                        let q = &self.people[rng.below(n)];
                        if q.employed(day) && !to.contains(&q.email) {
                            to.push(q.email.clone());
                        }
                    }
                    let from = self.people[sup].email.clone();
                    let to = to.join(";");
                    for i in 0..rng.int(1, 3) {
                        self.email(
                            rng,
                            s + 120 + i * 90,
                            u,
                            spc,
                            [&to, "", "", &from, "Send"],
                            &[],
                            ins,
                        );
                    }
                    self.logon(rng, s + 600, u, spc, false, ins);
                }
            }
            4 => {
                // Other people's PCs, their files, mailed home: more often as time goes on.
                if day != from
                    && (!self.workday(day) || !rng.chance(0.05 + 0.7 * x * progress.powf(1.5)))
                {
                    return;
                }
                let colleagues: Vec<usize> = self.people[u]
                    .contacts
                    .iter()
                    .copied()
                    .filter(|&c| self.people[c].employed(day))
                    .collect();
                let victim = match colleagues.get(rng.below(colleagues.len())) {
                    Some(&v) => v,
                    None => rng.below(self.people.len()),
                };
                let vpc = self.people[victim].pc;
                let s = match rng.below(3) {
                    0 => self.at(day, rng.range(12.0, 13.0)),
                    1 => self.at(day, rng.range(17.5, 20.0)),
                    _ => within(rng),
                };
                self.logon(rng, s, u, vpc, true, ins);
                let mut found = Vec::new();
                let mut t = s;
                for _ in 0..rng.int(3, 6 + (10.0 * x) as i64) {
                    let doc = rng.pick(&self.people[victim].docs).clone();
                    t += 5 + rng.exp(45.0) as i64;
                    self.file(rng, t, u, vpc, &doc, "File Open", false, false, ins);
                    if rng.chance(0.4) {
                        found.push(doc);
                    }
                }
                let e = t + 180 + rng.exp(600.0) as i64;
                if found.is_empty() {
                    found.push(rng.pick(&self.people[victim].docs).clone());
                }
                found.truncate(4);
                let from = self.people[u].email.clone();
                let home = self.people[u].personal_email.clone();
                self.email(
                    rng,
                    e - 120,
                    u,
                    vpc,
                    [&home, "", "", &from, "Send"],
                    &found,
                    ins,
                );
                if rng.chance(0.3) {
                    let site = self.people[u].webmail_site.clone();
                    let url = Self::url(rng, &site, None);
                    self.http(rng, e - 60, u, vpc, &url, ins);
                }
                self.logon(rng, e, u, vpc, false, ins);
            }
            _ => {
                // Before the layoff: documents to cloud storage.
                if day != from && !rng.chance(0.3 + 0.5 * x) {
                    return;
                }
                let site = if rng.chance(listed) {
                    rng.pick(self.cats.domains(Category::CloudStorage)).clone()
                } else {
                    rng.pick(UNLISTED_CLOUD).to_string()
                };
                let evening = !self.workday(day) || rng.chance(0.3);
                let (s, e, session) = if evening {
                    let s = self.at(day, rng.range(18.5, 22.0));
                    (s, s + 1800 + rng.exp(1800.0) as i64, true)
                } else {
                    let s = within(rng);
                    (s, (s + 3600).min(work.1.max(s + 600)), false)
                };
                if session {
                    self.logon(rng, s, u, own, true, ins);
                }
                let n = 2 + (rng.unit() * 15.0 * x) as i64;
                for i in 0..n {
                    // Spread over the session, not on a grid.
                    let step = (e - s - 60) / n.max(1);
                    let t = s + 30 + step * i + rng.int(0, step / 2);
                    let doc = rng.pick(&self.people[u].docs).clone();
                    self.file(rng, t, u, own, &doc, "File Open", false, false, ins);
                    let path = *rng.pick(&["upload/", "files/", "share/", "home/"]);
                    let url = Self::url(rng, &site, Some(path));
                    self.http(rng, t + 20, u, own, &url, ins);
                }
                if session {
                    self.logon(rng, e, u, own, false, ins);
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Output

    fn write(&mut self, out: &Path) -> Result<Summary> {
        let mut files: Vec<(PathBuf, BufWriter<File>)> = Vec::with_capacity(5);
        for (_, name, header) in FILES {
            let path = out.join(format!("{name}.csv"));
            let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            let mut w = BufWriter::with_capacity(1 << 20, f);
            writeln!(w, "{header}").with_context(|| format!("writing {}", path.display()))?;
            files.push((path, w));
        }
        let mut summary = Summary {
            employees: self.people.len(),
            ..Summary::default()
        };
        let mut details: Vec<Vec<(i64, String)>> = vec![Vec::new(); self.plans.len()];
        let mut pending: Vec<Row> = Vec::new();
        for day in 0..self.cfg.days {
            self.rows = std::mem::take(&mut pending);
            for u in 0..self.people.len() {
                if !self.people[u].employed(day) {
                    continue;
                }
                let mut rng = Rng::derive(self.cfg.seed, 3, u as u64, day as u64);
                let work = self.benign_day(&mut rng, u, day);
                if let Some(work) = work {
                    self.uploads(u, day, work);
                }
                if let Some(k) = self.insider_of[u] {
                    let mut rng = Rng::derive(self.cfg.seed, 4, k as u64, day as u64);
                    self.malicious(&mut rng, k, day, work);
                }
            }
            // Sessions that run past midnight are written with the next day.
            let next = self.at(day + 1, 0.0);
            let mut rows = std::mem::take(&mut self.rows);
            rows.sort_by_key(|r| r.time);
            let last_day = day + 1 == self.cfg.days;
            for r in rows {
                if r.time >= next && !last_day {
                    pending.push(r);
                    continue;
                }
                let (path, w) = &mut files[r.source];
                w.write_all(r.text.as_bytes())
                    .and_then(|()| w.write_all(b"\n"))
                    .with_context(|| format!("writing {}", path.display()))?;
                summary.rows[r.source] += 1;
                summary.bytes += r.text.len() as u64 + 1;
                if let Some(k) = r.insider {
                    let kind = FILES[r.source].1;
                    details[k].push((r.time, format!("{kind},{}", r.text)));
                }
            }
        }
        for (path, mut w) in files {
            w.flush()
                .with_context(|| format!("writing {}", path.display()))?;
        }
        self.write_org(out, &mut summary)?;
        self.write_answers(out, &details, &mut summary)?;
        Ok(summary)
    }

    fn write_org(&self, out: &Path, summary: &mut Summary) -> Result<()> {
        let mut psych = String::from("employee_name,user_id,O,C,E,A,N\n");
        for p in &self.people {
            let [o, c, e, a, n] = p.psych;
            let _ = writeln!(psych, "{},{},{o},{c},{e},{a},{n}", p.name, p.id);
        }
        let path = out.join("psychometric.csv");
        std::fs::write(&path, &psych).with_context(|| format!("writing {}", path.display()))?;
        summary.bytes += psych.len() as u64;
        // One snapshot per month: everyone employed on any day of it.
        let mut day = 0usize;
        while day < self.cfg.days {
            let (y, m, _) = time::civil_from_days(self.cfg.start_day + day as i64);
            let mut end = day;
            while end < self.cfg.days
                && time::civil_from_days(self.cfg.start_day + end as i64).1 == m
            {
                end += 1;
            }
            let mut text = String::from(
                "employee_name,user_id,email,role,projects,business_unit,functional_unit,department,team,supervisor\n",
            );
            for p in &self.people {
                if p.first_day >= end || p.last_day <= day {
                    continue;
                }
                let sup = p.supervisor.map_or("", |s| self.people[s].name.as_str());
                let _ = writeln!(
                    text,
                    "{},{},{},{},{},1,{},{},{},{sup}",
                    p.name, p.id, p.email, p.role, p.projects, p.unit, p.dept, p.team
                );
            }
            let path = out.join("LDAP").join(format!("{y:04}-{m:02}.csv"));
            std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
            summary.bytes += text.len() as u64;
            day = end;
        }
        Ok(())
    }

    fn write_answers(
        &self,
        out: &Path,
        details: &[Vec<(i64, String)>],
        summary: &mut Summary,
    ) -> Result<()> {
        let mut text = String::from("dataset,scenario,details,user,start,end\n");
        for (k, plan) in self.plans.iter().enumerate() {
            let rows = &details[k];
            let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                continue;
            };
            let user = &self.people[plan.person].id;
            let name = format!("r5.2-{}-{user}.csv", plan.scenario);
            let dir = out.join("answers").join(format!("r5.2-{}", plan.scenario));
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut body = String::new();
            for (_, r) in rows {
                body.push_str(r);
                body.push('\n');
            }
            let path = dir.join(&name);
            std::fs::write(&path, &body).with_context(|| format!("writing {}", path.display()))?;
            let _ = writeln!(
                text,
                "5.2,{},{name},{user},{},{}",
                plan.scenario,
                time::format(first.0),
                time::format(last.0)
            );
            summary.insiders.push(PlantedInsider {
                scenario: plan.scenario,
                user: user.clone(),
                start: first.0,
                end: last.0,
                rows: rows.len() as u64,
            });
            summary.bytes += body.len() as u64;
        }
        let path = out.join("answers").join("insiders.csv");
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::activity::Kind as Act;
    use crate::cert::{Merged, org};
    use std::collections::{BTreeMap, BTreeSet};

    fn small(seed: u64, scenarios: &[u8]) -> SimConfig {
        SimConfig {
            users: 40,
            days: 42,
            seed,
            scenarios: scenarios.to_vec(),
            ..SimConfig::default()
        }
    }

    /// Every file under `dir`, by relative path.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(dir).unwrap().display().to_string();
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let t = tempfile::tempdir().unwrap();
        let cfg = small(7, &[1, 2, 3, 4, 5]);
        run(&cfg, &t.path().join("a")).unwrap();
        run(&cfg, &t.path().join("b")).unwrap();
        run(&small(8, &[1, 2, 3, 4, 5]), &t.path().join("c")).unwrap();
        let (a, b, c) = (
            files(&t.path().join("a")),
            files(&t.path().join("b")),
            files(&t.path().join("c")),
        );
        assert!(a.len() >= 12, "{:?}", a.keys());
        assert_eq!(a, b);
        assert_ne!(a["logon.csv"], c["logon.csv"]);
        assert_ne!(a["answers/insiders.csv"], c["answers/insiders.csv"]);
    }

    #[test]
    fn reads_back_clean_with_every_insider_inside_its_window() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("set");
        let summary = run(&small(3, &[1, 2, 3, 4, 5]), &dir).unwrap();
        let mut merged = Merged::open(&dir).unwrap();
        let rows: Vec<_> = merged.by_ref().collect();
        assert_eq!(merged.bad_rows, 0, "{:?}", merged.bad);
        assert_eq!(merged.out_of_order, 0, "each file is sorted by time");
        assert_eq!(rows.len() as u64, summary.rows.iter().sum::<u64>());
        assert_eq!(merged.sources().len(), 5);

        let org = org::read_ldap(&dir).unwrap();
        assert!(org.bad.is_empty(), "{:?}", org.bad);
        assert_eq!(org.months, ["2010-01", "2010-02"]);
        assert_eq!(org.employees.len(), summary.employees);
        let bosses = org
            .employees
            .values()
            .filter(|e| e.supervisor.is_none())
            .count();
        assert_eq!(bosses, 1, "only the president has no supervisor");
        assert_eq!(
            org::read_psychometric(&dir).unwrap().len(),
            summary.employees
        );
        // Everyone active is an employee, and nobody works after leaving the LDAP.
        for a in &rows {
            let e = &org.employees[&a.user];
            assert!(time::date(a.time)[..7] <= *e.last_month, "{a:?}");
        }

        let answers = org::read_answers(&dir).unwrap().unwrap();
        assert!(answers.bad.is_empty(), "{:?}", answers.bad);
        let scenarios: BTreeSet<u8> = answers.insiders.iter().map(|i| i.scenario).collect();
        assert_eq!(scenarios, BTreeSet::from([1, 2, 3, 4, 5]));
        for ins in &answers.insiders {
            assert!(ins.start <= ins.end);
            // The window starts in the second half: the first is a clean baseline.
            assert!(
                ins.start >= time::parse_date("2010-01-25").unwrap(),
                "{ins:?}"
            );
            let inside = rows
                .iter()
                .filter(|a| a.user == ins.user && (ins.start..=ins.end).contains(&a.time))
                .count();
            let listed = summary
                .insiders
                .iter()
                .find(|p| p.user == ins.user)
                .unwrap()
                .rows;
            assert!(
                inside as u64 >= listed,
                "{ins:?}: {inside} rows in the window"
            );
            let details = std::fs::read_to_string(
                dir.join(format!("answers/r5.2-{}", ins.scenario))
                    .join(format!("r5.2-{}-{}.csv", ins.scenario, ins.user)),
            )
            .unwrap();
            assert_eq!(details.lines().count() as u64, listed);
            for line in details.lines() {
                let f: Vec<&str> = line.split(',').collect();
                let t = time::parse(f[2].as_bytes()).unwrap();
                assert!((ins.start..=ins.end).contains(&t), "{line}");
                assert_eq!(f[3], ins.user);
            }
            let mine = rows.iter().filter(|a| a.user == ins.user);
            match ins.scenario {
                1 => assert!(mine.clone().any(|a| matches!(
                    &a.kind,
                    Act::File {
                        to_removable: true,
                        ..
                    }
                ) && (ins.start..=ins.end).contains(&a.time))),
                3 => {
                    // At the supervisor's PC: one they never use otherwise.
                    let sup = org.employees[&ins.user].supervisor.clone().unwrap();
                    let sup_pc = rows
                        .iter()
                        .find(|a| a.user == sup && a.kind == Act::Logon)
                        .map(|a| a.pc.clone());
                    if let Some(pc) = sup_pc {
                        assert!(mine.clone().any(|a| a.pc == pc), "{ins:?}");
                    }
                    assert!(mine.clone().any(|a| a.recipients().count() >= 8));
                }
                _ => {}
            }
            if matches!(ins.scenario, 2 | 3 | 5) {
                let after = rows
                    .iter()
                    .filter(|a| a.user == ins.user && a.time > ins.end + DAY)
                    .count();
                assert_eq!(after, 0, "{ins:?} left");
            }
        }
    }

    #[test]
    fn benign_users_give_hard_negatives() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("set");
        let s = run(
            &SimConfig {
                users: 120,
                days: 30,
                seed: 5,
                scenarios: Vec::new(),
                ..SimConfig::default()
            },
            &dir,
        )
        .unwrap();
        assert!(s.insiders.is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.join("answers/insiders.csv")).unwrap(),
            "dataset,scenario,details,user,start,end\n"
        );
        let cats = Categories::embedded();
        let mut seen: BTreeMap<Option<Category>, BTreeSet<String>> = BTreeMap::new();
        let mut thumbs = BTreeSet::new();
        let mut pcs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut after_hours = 0;
        let mut personal = 0;
        for a in Merged::open(&dir).unwrap() {
            match &a.kind {
                Act::Http { url, .. } => {
                    seen.entry(cats.classify_url(url))
                        .or_default()
                        .insert(a.user.clone());
                }
                Act::Connect { .. } => {
                    thumbs.insert(a.user.clone());
                }
                Act::Logon => {
                    pcs.entry(a.user.clone()).or_default().insert(a.pc.clone());
                    let h = a.time.rem_euclid(DAY) / 3600;
                    after_hours += usize::from(!(6..20).contains(&h));
                }
                Act::Email { to, .. } => personal += usize::from(cats.is_personal_email(to)),
                _ => {}
            }
        }
        for c in [
            Some(Category::JobSearch),
            Some(Category::Webmail),
            Some(Category::CloudStorage),
            Some(Category::Ordinary),
            None,
        ] {
            assert!(
                seen.get(&c).is_some_and(|u| !u.is_empty()),
                "{c:?}: {seen:?}"
            );
        }
        assert!(thumbs.len() >= 5, "{thumbs:?}");
        assert!(pcs.values().any(|p| p.len() >= 5), "admins log on widely");
        assert!(after_hours > 0 && personal > 0);
    }

    #[test]
    fn benign_uploads_are_files_each_sent_a_moment_after_it_is_opened() {
        let cfg = small(9, &[]);
        let cats = Categories::embedded();
        let mut sim = Sim::new(&cfg, 0, &cats);
        let (a, b) = (sim.at(3, 9.0), sim.at(3, 17.0));
        sim.people[0].upload_p = 0.0;
        sim.uploads(0, 3, (a, b));
        assert!(sim.rows.is_empty(), "none for a user who never uploads");
        sim.people[0].upload_p = 1.0;
        sim.uploads(0, 3, (a, b));
        let rows = std::mem::take(&mut sim.rows);
        assert!(
            (2..=8).contains(&rows.len()) && rows.len() % 2 == 0,
            "{}",
            rows.len()
        );
        let pc = &sim.pcs[sim.people[0].pc];
        for pair in rows.chunks(2) {
            let (file, http) = (&pair[0], &pair[1]);
            assert!(file.source == source_index(Source::File), "{}", file.text);
            assert!(
                file.text.contains(",File Open,False,False,"),
                "{}",
                file.text
            );
            assert!(http.source == source_index(Source::Http), "{}", http.text);
            assert!((5..=60).contains(&(http.time - file.time)));
            assert!(a <= file.time && http.time <= b);
            assert!(file.text.contains(pc.as_str()) && http.text.contains(pc.as_str()));
            assert!(file.insider.is_none() && http.insider.is_none());
        }
        // One site per day; another day draws again from its own stream, the same each time.
        let sites: BTreeSet<&str> = rows
            .iter()
            .skip(1)
            .step_by(2)
            .filter_map(|r| r.text.split("://").nth(1)?.split('/').next())
            .collect();
        assert_eq!(sites.len(), 1, "{sites:?}");
        sim.uploads(0, 3, (a, b));
        assert_eq!(
            sim.rows.iter().map(|r| &r.text).collect::<Vec<_>>(),
            rows.iter().map(|r| &r.text).collect::<Vec<_>>()
        );
        // A session too short for them has none.
        sim.rows.clear();
        sim.uploads(0, 4, (a, a + 600));
        assert!(sim.rows.is_empty());
    }

    #[test]
    fn bad_settings_name_the_argument() {
        let t = tempfile::tempdir().unwrap();
        let err = |cfg: SimConfig| run(&cfg, &t.path().join("x")).unwrap_err().to_string();
        assert!(
            err(SimConfig {
                users: 3,
                ..small(1, &[])
            })
            .contains("--users 3")
        );
        assert!(
            err(SimConfig {
                users: 20,
                ..small(1, &[1, 2, 3, 4, 5])
            })
            .contains("--users 20")
        );
        assert!(
            err(SimConfig {
                days: 10,
                ..small(1, &[1])
            })
            .contains("--days 10")
        );
        assert!(err(small(1, &[7])).contains("--scenarios: 7"));
        std::fs::create_dir_all(t.path().join("full")).unwrap();
        std::fs::write(t.path().join("full/keep.txt"), "mine").unwrap();
        let e = run(&small(1, &[]), &t.path().join("full"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--out") && e.contains("not empty"), "{e}");
        assert!(t.path().join("full/keep.txt").exists());
    }

    #[test]
    fn unlisted_domains_are_in_no_list_and_holidays_fall_right() {
        let cats = Categories::embedded();
        for d in UNLISTED_JOB
            .iter()
            .chain(UNLISTED_LEAK)
            .chain(UNLISTED_CLOUD)
            .chain(UNLISTED_HACKING)
            .chain(ADMIN_TOOLS)
            .chain(PARTNERS)
        {
            assert_eq!(cats.classify_url(d), None, "{d}");
        }
        for d in UNLISTED_PERSONAL {
            assert!(!cats.is_personal_email(&format!("a@{d}")), "{d}");
        }
        let day = |s: &str| time::parse_date(s).unwrap() / DAY;
        assert!(is_holiday(day("2010-01-01")) && !is_holiday(day("2010-07-05")));
        assert!(is_holiday(day("2010-11-25")) && is_holiday(day("2010-11-26")));
        assert!(is_holiday(day("2010-05-31")) && is_holiday(day("2010-09-06")));
        assert!(!is_holiday(day("2010-05-24")) && !is_holiday(day("2010-11-18")));
        assert_eq!(weekday(SimConfig::default().start_day), 0);
    }
}
