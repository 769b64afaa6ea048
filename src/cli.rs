//! Command-line parsing and dispatch. Each subcommand builds the stages it needs and runs them.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use dante::event::Event;
use dante::keys::parallel::ParallelKeyer;
use dante::keys::{Format, KeyExtractor, KeyId, Miner, MinerConfig, vocab};
use dante::model::train::{TrainConfig, train};
use dante::model::{ModelConfig, file as model_file};
use dante::score::{DEFAULT_CACHE_STATES, score_all};
use dante::source::lines::{DEFAULT_MAX_LINE_BYTES, LineReader};
use dante::source::sessions;
use serde::Serialize;
use std::fs::File;
use std::io::IsTerminal;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Insider-threat detection on the edge, from system logs.
#[derive(Debug, Parser)]
#[command(name = "dante", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Turn log lines into log keys: prints `line_no<TAB>key_id<TAB>template` per input line,
    /// after all input is read, with each key's final template.
    Parse(ParseArgs),
    /// Train the next-key model on normal sessions.
    Train(TrainArgs),
    /// Score sessions with a model: prints `session_no<TAB>verdict<TAB>score<TAB>first
    /// anomalous position<TAB>key seen<TAB>expected keys`.
    Score(ScoreArgs),
    /// Run an evaluation on a public data set.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Run the agent: read the configured sources, score every event per user, send anomaly
    /// events to the sinks. Without --config: syslog on 127.0.0.1:5514 (UDP and TCP),
    /// /var/log/auth.log when readable, alerts on stdout, the bundled model.
    Run(RunArgs),
    /// Check a configuration file without starting anything.
    Validate(ValidateArgs),
    /// Generate Linux authentication logs (syslog): benign days of a small organisation, with
    /// --inject N insider-like events (their line numbers go to --labels).
    Generate(GenerateArgs),
    /// Write a simulated data set.
    #[command(subcommand)]
    Simulate(SimulateCommand),
}

#[derive(Debug, Subcommand)]
enum SimulateCommand {
    /// A CERT r5.2-layout insider-threat data set (activity files, LDAP months, psychometrics,
    /// answers) of an invented organisation, with insiders of the chosen scenarios.
    Cert(SimulateCertArgs),
}

#[derive(Debug, clap::Args)]
struct SimulateCertArgs {
    /// The directory to write (created; it must be empty or absent).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Employees.
    #[arg(long, default_value_t = dante::cert::simulate::SimConfig::default().users)]
    users: usize,
    /// Days, from 2010-01-04 (or --start).
    #[arg(long, default_value_t = dante::cert::simulate::SimConfig::default().days)]
    days: usize,
    /// Seed: the same arguments give the same bytes.
    #[arg(long, default_value_t = dante::cert::simulate::SimConfig::default().seed)]
    seed: u64,
    /// CERT scenarios to plant insiders of (comma-separated, 1 to 5), or `none`.
    #[arg(long, value_name = "LIST", default_value = "1,2,3,4,5", value_parser = parse_scenarios)]
    scenarios: Scenarios,
    /// Insiders per scenario; default one per 100 users, at least one.
    #[arg(long, value_name = "N")]
    insiders: Option<usize>,
    /// The first day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", default_value = "2010-01-04", value_parser = parse_start)]
    start: i64,
}

/// The scenarios of `--scenarios` (a wrapper, so that clap takes the whole list as one value).
#[derive(Debug, Clone)]
struct Scenarios(Vec<u8>);

fn parse_scenarios(s: &str) -> std::result::Result<Scenarios, String> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(Scenarios(Vec::new()));
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let n: u8 = part
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=5).contains(n))
            .ok_or_else(|| {
                format!(
                    "{:?} is not a CERT scenario (1 to 5, or `none`)",
                    part.trim()
                )
            })?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(Scenarios(out))
}

fn parse_start(s: &str) -> std::result::Result<i64, String> {
    dante::cert::time::parse_date(s)
        .map(|t| t / dante::cert::time::DAY)
        .ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Users (a fifth of them admins).
    #[arg(long, default_value_t = dante::eval::synth::SynthConfig::default().users)]
    users: usize,
    /// Days.
    #[arg(long, default_value_t = dante::eval::synth::SynthConfig::default().days)]
    days: usize,
    /// Seed.
    #[arg(long, default_value_t = dante::eval::synth::SynthConfig::default().seed)]
    seed: u64,
    /// Insider-like events to inject.
    #[arg(long, default_value_t = 0)]
    inject: usize,
    /// Where to write the injected events (`line<TAB>user<TAB>what`).
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// Where to write the logs; standard output when absent.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The configuration file (TOML; see agent.toml.example).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ValidateArgs {
    /// The configuration file to check.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ModelArgs {
    /// Passes over the data at most (early stopping may end sooner).
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// LSTM hidden size [default: 64; `eval cert`: 32].
    #[arg(long)]
    hidden: Option<usize>,
    /// LSTM layers, 1 or 2 [default: 2; `eval cert`: 1].
    #[arg(long)]
    layers: Option<usize>,
    /// Seed of initialisation, validation split and shuffling.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Session false-positive rate that g is calibrated for on the validation split.
    #[arg(long, default_value_t = TrainConfig::default().target_fpr)]
    target_fpr: f64,
    /// Share of the sessions held out for early stopping and calibration.
    #[arg(long, default_value_t = TrainConfig::default().validation)]
    validation: f64,
    /// Chance that a training key is moved a few places (drawn anew each epoch), so that orders
    /// the training data happens not to show are not surprising; 0 turns it off.
    #[arg(long, default_value_t = TrainConfig::default().reorder)]
    reorder: f64,
    /// How many places at most a moved key travels.
    #[arg(long, default_value_t = TrainConfig::default().span)]
    reorder_span: usize,
    /// Learn which keys occur together in a session: a session holding two keys never seen
    /// together is anomalous, and g then judges only the session's end. The default for whole
    /// sessions (`--sessions`, `eval sessions`); not with `--logs`, whose model serves the
    /// agent, which scores one event at a time.
    #[arg(long, overrides_with = "no_key_pairs")]
    key_pairs: bool,
    /// DeepLog's rule alone: g judges every key, and no key pairs are kept.
    #[arg(long, overrides_with = "key_pairs")]
    no_key_pairs: bool,
}

impl ModelArgs {
    /// The training configuration. Key pairs are on unless `--no-key-pairs` when the model is
    /// for `whole_sessions`; otherwise asking for them is an error.
    fn config(&self, whole_sessions: bool) -> Result<TrainConfig> {
        self.config_over(whole_sessions, ModelConfig::default())
    }

    /// [`Self::config`] with the shape `model` unless the command line gives one.
    fn config_over(&self, whole_sessions: bool, model: ModelConfig) -> Result<TrainConfig> {
        if !whole_sessions && self.key_pairs {
            anyhow::bail!(
                "--key-pairs: only a model of whole sessions keeps key pairs (`train \
                 --sessions`, `eval sessions`); the agent and `eval cert` score one event or \
                 one day at a time"
            );
        }
        let key_pairs = whole_sessions && !self.no_key_pairs;
        Ok(TrainConfig {
            model: ModelConfig {
                hidden: self.hidden.unwrap_or(model.hidden),
                layers: self.layers.unwrap_or(model.layers),
                ..model
            },
            epochs: self.epochs,
            seed: self.seed,
            target_fpr: self.target_fpr,
            validation: self.validation,
            reorder: self.reorder,
            span: self.reorder_span,
            key_pairs,
            ..TrainConfig::default()
        })
    }
}

#[derive(Debug, clap::Args)]
#[group(id = "input", required = true, multiple = false, args = ["sessions", "logs"])]
struct TrainArgs {
    /// Sessions, one per line: space-separated integer keys, optionally prefixed by `id,`.
    #[arg(long, value_name = "FILE")]
    sessions: Option<PathBuf>,
    /// Raw log files: keyed, attributed to users (or hosts), one session per user per day.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    logs: Vec<PathBuf>,
    /// Header format of the log files (as `dante parse --format`).
    #[arg(long, default_value = "auto")]
    format: String,
    /// With --logs: the key vocabulary to use and update (vocab.json), so that the keys the
    /// model learns are the agent's keys.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Where to write the model (safetensors with dante's metadata).
    #[arg(long, value_name = "MODEL")]
    out: PathBuf,
    /// Threads of candle's matrix products (default 1, or RAYON_NUM_THREADS when set): the
    /// matrices are small, and two threads that wait on each other are slower than one as
    /// soon as anything else runs on the machine.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    #[command(flatten)]
    model: ModelArgs,
}

#[derive(Debug, clap::Args)]
struct ScoreArgs {
    /// The model file.
    #[arg(long, value_name = "MODEL")]
    model: PathBuf,
    /// Sessions to score, one per line.
    #[arg(long, value_name = "FILE")]
    sessions: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScoreOutput::Tsv)]
    output: ScoreOutput,
    /// Threads scoring sessions; default: the cores this process may use.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScoreOutput {
    Tsv,
}

#[derive(Debug, clap::Args)]
struct ParseArgs {
    /// Header format: auto, syslog, raw, a Loghub format such as
    /// "<Date> <Time> <Level> <Component>: <Content>", or regex:RE with a named group `message`.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Directory holding the vocabulary (vocab.json): loaded first, saved at the end, so ids stay
    /// the same across runs.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Output rows as tab-separated values or as JSON lines with parameters and header fields.
    #[arg(long, value_enum, default_value_t = Output::Tsv)]
    output: Output,
    /// Lines longer than this many bytes are cut and flagged.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES, value_name = "BYTES")]
    max_line_bytes: usize,
    /// The most templates kept; beyond it the least recently seen is evicted (its id retired).
    #[arg(long, default_value_t = MinerConfig::default().max_templates, value_name = "N")]
    max_templates: usize,
    /// Threads that decode and tokenise lines (the miner itself keeps input order); default: the
    /// cores this process may use.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Input files; standard input when none. Line numbers run on across files.
    files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Tsv,
    Json,
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Template-mining accuracy (GA, FGA, PA, FTA) and speed on Loghub-2k.
    Loghub {
        /// The folder that holds the systems' subfolders.
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Settings file: {"System": {"log_file": ..., "log_format": ...}, ...}.
        #[arg(long, value_name = "FILE")]
        settings: PathBuf,
        /// Also write the results as JSON here.
        #[arg(long, value_name = "OUT")]
        json: Option<PathBuf>,
    },
    /// Insider-threat detection on a CERT release: users.tsv, user_days.tsv, sessions.tsv,
    /// evidence.tsv and, with answers, report.json, report.svg and a table (ROC AUC, detection at
    /// 1%/5% FPR, per-scenario recall, categories).
    Cert {
        /// The release's directory (logon.csv, device.csv, http.csv, email.csv, file.csv, LDAP/).
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// Days before this date (YYYY-MM-DD) are the baseline the model trains on; default: the
        /// middle of the data's date range.
        #[arg(long, value_name = "DATE", value_parser = parse_day)]
        train_end: Option<i64>,
        /// Where the outputs go.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The alert budget: the share of the test period's users flagged (0.05: one in twenty
        /// over the whole period).
        #[arg(long, default_value_t = 0.05)]
        budget: f64,
        /// At most this many baseline keys train the model (user-days drawn with --seed, cut
        /// into pieces of 64 keys).
        #[arg(long, default_value_t = 20_000)]
        max_train_keys: usize,
        /// evidence.tsv explains at least this many top users (every flagged user in any case).
        #[arg(long, default_value_t = 0)]
        explain: usize,
        /// Scoring threads (default: the machine's cores).
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Train on normal sessions, score normal and abnormal ones: precision, recall, F1, FPR.
    Sessions {
        /// Normal sessions to train on.
        #[arg(long, value_name = "FILE")]
        train: PathBuf,
        /// Normal sessions to test on; without it 20% of --train is held out.
        #[arg(long, value_name = "FILE")]
        test_normal: Option<PathBuf>,
        /// Abnormal sessions to test on.
        #[arg(long, value_name = "FILE")]
        test_abnormal: PathBuf,
        /// Also write the results as JSON here.
        #[arg(long, value_name = "OUT")]
        json: Option<PathBuf>,
        /// Write each validation and test session's ranks and probabilities here (TSV), to
        /// compare decision rules offline.
        #[arg(long, value_name = "FILE", hide = true)]
        dump: Option<PathBuf>,
        /// Threads of candle's matrix products while training (default 1, or
        /// RAYON_NUM_THREADS when set).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        #[command(flatten)]
        model: ModelArgs,
    },
}

/// Parses the command line and runs the command.
pub fn run() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Parse(args) => parse(args),
        Command::Train(args) => train_sessions(args),
        Command::Score(args) => score(args),
        Command::Run(args) => run_agent(args),
        Command::Generate(args) => generate(args),
        Command::Simulate(SimulateCommand::Cert(args)) => simulate_cert(args),
        Command::Validate(args) => {
            let cfg = dante::config::Config::load(&args.config)?;
            println!(
                "{}: valid ({} source(s), {} sink(s))",
                args.config.display(),
                cfg.sources.len(),
                cfg.sinks.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(EvalCommand::Sessions {
            train,
            test_normal,
            test_abnormal,
            json,
            dump,
            threads,
            model,
        }) => {
            set_training_threads(threads);
            let report = dante::eval::sessions::run(
                &train,
                test_normal.as_deref(),
                &test_abnormal,
                &model.config(true)?,
                dump.as_deref(),
            )?;
            print!("{}", report.text());
            write_report(json.as_deref(), &report)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(EvalCommand::Cert {
            data,
            train_end,
            out,
            budget,
            max_train_keys,
            explain,
            threads,
            model,
        }) => {
            // Training is one thread like `dante train`'s; `--threads` is for scoring.
            set_training_threads(None);
            eval_cert(dante::eval::cert::CertEval {
                explain,
                data,
                train_end,
                out,
                budget,
                train: model.config_over(false, dante::eval::cert::MODEL)?,
                max_train_keys,
                threads: threads_or_cores(threads),
            })
        }
        Command::Eval(EvalCommand::Loghub {
            data,
            settings,
            json,
        }) => {
            let report = dante::eval::loghub::run(&data, &settings)?;
            print!("{}", report.table());
            write_report(json.as_deref(), &report)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse(args: ParseArgs) -> Result<ExitCode> {
    let format: Format = args
        .format
        .parse()
        .with_context(|| format!("--format {:?}", args.format))?;
    let cfg = MinerConfig {
        max_templates: args.max_templates,
        ..MinerConfig::default()
    };
    let miner = match &args.state {
        Some(dir) => vocab::load(dir, cfg)?,
        None => Miner::new(cfg),
    };
    let threads = threads_or_cores(args.threads);
    let json = args.output == Output::Json;
    // JSON rows need each line again at the end, to take parameters against the final template.
    let mut keyer = ParallelKeyer::new(KeyExtractor::new(format, miner), threads, json);
    let mut truncated: Vec<bool> = Vec::new();
    let mut truncated_count = 0u64;
    let mut failed = false;
    let start = Instant::now();
    let inputs: Vec<Option<&PathBuf>> = if args.files.is_empty() {
        vec![None]
    } else {
        args.files.iter().map(Some).collect()
    };
    for input in inputs {
        let name = input.map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string());
        let reader: Box<dyn BufRead> = match input {
            None => Box::new(BufReader::with_capacity(1 << 18, io::stdin().lock())),
            Some(path) => match File::open(path) {
                Ok(f) => Box::new(BufReader::with_capacity(1 << 18, f)),
                Err(e) => {
                    eprintln!("dante: {name}: {e}");
                    failed = true;
                    continue;
                }
            },
        };
        let mut lines = LineReader::new(reader, args.max_line_bytes);
        let mut line_no = 0u64;
        loop {
            let info = match keyer.push_from(&mut lines) {
                Ok(Some(info)) => info,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("dante: {name}: line {}: {e}", line_no + 1);
                    failed = true;
                    break;
                }
            };
            line_no += 1;
            truncated_count += u64::from(info.truncated);
            if json {
                truncated.push(info.truncated);
            }
        }
    }
    let (stage, mut keys, counts, kept) = keyer.finish();
    let mine_secs = start.elapsed().as_secs_f64();
    // A key merged into another since its line was read is reported as the key it became.
    for k in &mut keys {
        *k = stage.miner().canonical(*k);
    }
    // Saved before the output is written, so that a closed pipe does not lose the vocabulary.
    if let Some(dir) = &args.state {
        vocab::save(stage.miner(), dir)?;
    }

    let templates = final_templates(stage.miner());
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 18, stdout);
    let written = if json {
        write_json(&mut out, &stage, &keys, &kept, &truncated, &templates)
    } else {
        write_tsv(&mut out, &keys, &templates)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => {}
        // A closed pipe (`| head`) is not an error worth a message; an unreadable input still
        // sets the exit code below.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e).context("writing output"),
    }
    let miner = stage.miner();
    let evicted = miner.evicted();
    eprintln!(
        "dante parse: {} lines, {} templates (~{} bytes each), {} truncated, {} invalid UTF-8, {} not matching the format, {} evicted; {:.3}s ({:.0} lines/s)",
        counts.lines,
        miner.len(),
        miner.template_bytes() / miner.len().max(1),
        truncated_count,
        counts.invalid_utf8,
        stage.unmatched(),
        evicted,
        mine_secs,
        counts.lines as f64 / mine_secs.max(1e-9)
    );
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Each live key's template, indexed by id. An evicted key has none.
fn final_templates(miner: &Miner) -> Vec<Option<String>> {
    let mut v = vec![None; miner.next_id() as usize];
    for (id, slot) in v.iter_mut().enumerate() {
        *slot = miner.template(id as KeyId);
    }
    v
}

fn write_tsv(out: &mut impl Write, keys: &[KeyId], templates: &[Option<String>]) -> io::Result<()> {
    // Each key's `\tkey\ttemplate\n` is the same on every row: build it once.
    let tails: Vec<Vec<u8>> = templates
        .iter()
        .enumerate()
        .map(|(id, t)| format!("\t{id}\t{}\n", t.as_deref().unwrap_or("")).into_bytes())
        .collect();
    let mut n = itoa::Buffer::new();
    for (i, key) in keys.iter().enumerate() {
        out.write_all(n.format(i + 1).as_bytes())?;
        out.write_all(&tails[*key as usize])?;
    }
    Ok(())
}

/// The thread count asked for, or the cores this process may use.
fn threads_or_cores(asked: Option<usize>) -> usize {
    asked.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    })
}

/// Writes an evaluation report as pretty JSON, when `--json` asked for it.
fn write_report(out: Option<&std::path::Path>, report: &impl Serialize) -> Result<()> {
    if let Some(out) = out {
        let text = serde_json::to_string_pretty(report)?;
        std::fs::write(out, text + "\n").with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonRow<'a> {
    line: usize,
    template: &'a str,
    #[serde(flatten)]
    event: Event,
}

fn write_json(
    out: &mut impl Write,
    stage: &KeyExtractor,
    keys: &[KeyId],
    kept: &[String],
    truncated: &[bool],
    templates: &[Option<String>],
) -> io::Result<()> {
    for (i, ((line, truncated), key)) in kept.iter().zip(truncated).zip(keys).enumerate() {
        let decoded = stage.format().decode(line);
        let mut event = stage.describe(&decoded, *key);
        event.truncated = *truncated;
        let row = JsonRow {
            line: i + 1,
            template: templates[*key as usize].as_deref().unwrap_or(""),
            event,
        };
        serde_json::to_writer(&mut *out, &row)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// What training from logs learns from: sessions per user per day, the key vocabulary's hash,
/// and each event's parameter values.
struct LogData {
    sessions: Vec<Vec<KeyId>>,
    vocabulary: String,
    values: Vec<(KeyId, Vec<f64>)>,
}

/// Keys raw log lines, attributes them and cuts them into sessions per user per day.
fn sessions_from_logs(args: &TrainArgs) -> Result<LogData> {
    let format: Format = args
        .format
        .parse()
        .with_context(|| format!("--format {:?}", args.format))?;
    let miner = match &args.state {
        Some(dir) => vocab::load(dir, MinerConfig::default())?,
        None => Miner::new(MinerConfig::default()),
    };
    let mut keyer = ParallelKeyer::new(KeyExtractor::new(format, miner), 1, true);
    for path in &args.logs {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut lines =
            LineReader::new(BufReader::with_capacity(1 << 18, f), DEFAULT_MAX_LINE_BYTES);
        while keyer
            .push_from(&mut lines)
            .with_context(|| format!("reading {}", path.display()))?
            .is_some()
        {}
    }
    let (stage, keys, _, lines) = keyer.finish();
    // Users are read from parameters against each key's final template.
    let mut grouped = dante::user::Sessions::default();
    let mut users = dante::user::Attributor::new(&dante::user::UsersConfig::default())?;
    let mut values = Vec::with_capacity(lines.len());
    for (line, key) in lines.iter().zip(&keys) {
        let key = stage.miner().canonical(*key);
        let event = stage.describe(&stage.format().decode(line), key);
        let template = stage.miner().template(key);
        let dt = grouped.push(users.user(&event, template.as_deref()), &event, key);
        values.push((key, dante::model::params::values(dt, &event.params)));
    }
    if let Some(dir) = &args.state {
        vocab::save(stage.miner(), dir)?;
    }
    Ok(LogData {
        sessions: grouped
            .into_sessions()
            .into_iter()
            .map(|(_, k)| k)
            .collect(),
        vocabulary: vocab::templates_hash(stage.miner()),
        values,
    })
}

/// Threads candle trains with unless told otherwise ([`set_training_threads`]).
const TRAIN_THREADS: usize = 1;

/// Sets the threads of candle's matrix products: `threads`, else `RAYON_NUM_THREADS` when the
/// environment sets it, else [`TRAIN_THREADS`]. candle reads `RAYON_NUM_THREADS` at each
/// product and has no other setting. Must run before the process starts a thread.
fn set_training_threads(threads: Option<usize>) {
    let n = match threads {
        Some(n) => n.max(1),
        None if std::env::var_os("RAYON_NUM_THREADS").is_some() => return,
        None => TRAIN_THREADS,
    };
    // SAFETY: called first thing in the command, before this process starts any thread, so no
    // other thread can be reading or writing the environment.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
}

fn train_sessions(args: TrainArgs) -> Result<ExitCode> {
    set_training_threads(args.threads);
    let (keys, logs) = match &args.sessions {
        Some(path) => {
            let data = sessions::read(path)?;
            (data.into_iter().map(|s| s.keys).collect::<Vec<_>>(), None)
        }
        None => {
            let mut data = sessions_from_logs(&args)?;
            (std::mem::take(&mut data.sessions), Some(data))
        }
    };
    let source = args.sessions.as_ref().map_or_else(
        || format!("{} log file(s)", args.logs.len()),
        |p| p.display().to_string(),
    );
    // Key pairs judge whole sessions: a model trained on logs serves the agent.
    let cfg = args.model.config(args.sessions.is_some())?;
    // A progress bar on a terminal, nothing otherwise.
    let bar = io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(cfg.epochs as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} epoch {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut report = |epoch: usize, train_loss: f64, val_loss: f64| {
        if let Some(bar) = &bar {
            bar.set_position(epoch as u64);
            bar.set_message(format!("loss {train_loss:.4} validation {val_loss:.4}"));
        }
    };
    let mut model =
        train(&keys, &cfg, Some(&mut report)).with_context(|| format!("training on {source}"))?;
    if let Some(logs) = logs {
        model.params = Some(dante::model::learn::fit_values(logs.values, cfg.target_fpr));
        model.key_vocabulary = Some(logs.vocabulary);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    model_file::save(&model, &args.out)?;
    let s = &model.summary;
    eprintln!(
        "dante train: {} sessions ({} keys, {} known), {} epochs in {:.1}s, validation loss {:.4}, g = {}, surprise threshold {}{} (validation FPR {:.4} for a target of {}); wrote {}",
        s.sessions,
        s.events,
        model.vocab.len(),
        s.epochs,
        s.seconds,
        s.validation_loss,
        model.g,
        model
            .threshold
            .map_or_else(|| "none".to_string(), |t| format!("{t:.2}")),
        model.pairs.as_ref().map_or_else(String::new, |p| format!(
            ", end threshold {}, {} key pairs",
            model
                .end_threshold
                .map_or_else(|| "none".to_string(), |t| format!("{t:.2}")),
            p.to_list().len()
        )),
        s.validation_fpr,
        s.target_fpr,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `YYYY-MM-DD` as the seconds of that day's start on CERT's clock.
fn parse_day(s: &str) -> Result<i64, String> {
    dante::cert::time::parse_date(s).ok_or_else(|| format!("expected YYYY-MM-DD, got {s:?}"))
}

fn eval_cert(cfg: dante::eval::cert::CertEval) -> Result<ExitCode> {
    if !(0.0..1.0).contains(&cfg.budget) {
        anyhow::bail!("--budget: expected a share in [0, 1), got {}", cfg.budget);
    }
    let (users, report) = dante::eval::cert::run(&cfg)
        .with_context(|| format!("evaluating {}", cfg.data.display()))?;
    let flagged = users.iter().filter(|u| u.flagged).count();
    eprintln!(
        "dante eval cert: {} users, {flagged} flagged; wrote {}/users.tsv, user_days.tsv, sessions.tsv and evidence.tsv",
        users.len(),
        cfg.out.display()
    );
    if let Some(r) = report {
        println!(
            "users {}  insiders {}  user-days {}",
            r.users, r.insiders, r.user_days
        );
        println!("user AUC      {:.4}", r.user_auc);
        println!(
            "user-day AUC  {:.4} (the day's own score {:.4}; positive: the {} days the insiders acted on)\n\
             user-day AUC  {:.4} (the day's own score {:.4}; positive: the {} days of the insiders' windows)",
            r.user_day_auc,
            r.user_day_auc_day_only,
            r.positive_days[0],
            r.user_day_auc_window,
            r.user_day_auc_window_day_only,
            r.positive_days[1]
        );
        println!(
            "session AUC   {:.4} ({} sessions; positive: the {} the insiders acted in)",
            r.session_auc, r.sessions, r.positive_sessions
        );
        println!(
            "detection at 1% FPR {:.3}, at 5% FPR {:.3}",
            r.detection_at_1pct_fpr, r.detection_at_5pct_fpr
        );
        for [s, n, hit] in &r.per_scenario {
            if *n > 0 {
                println!("scenario {s}: {hit}/{n} flagged");
            }
        }
        println!(
            "flagged {} ({} benign), {:.2} alerts/day, category accuracy {:.3}",
            r.flagged, r.false_alarms, r.alerts_per_day, r.category_accuracy
        );
        println!(
            "{} events ({} bad rows), {:.0} events/s, reading and keying {:.1}s, training {:.1}s, \
             scoring {:.1}s; {} keys, {} known to the model",
            r.events,
            r.bad_rows,
            r.events_per_sec,
            r.read_seconds,
            r.train_seconds,
            r.score_seconds,
            r.keys,
            r.model_keys
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn generate(args: GenerateArgs) -> Result<ExitCode> {
    let cfg = dante::eval::synth::SynthConfig {
        users: args.users,
        days: args.days,
        seed: args.seed,
        inject: args.inject,
        ..Default::default()
    };
    let injected = match &args.out {
        Some(p) => {
            let f = File::create(p).with_context(|| format!("creating {}", p.display()))?;
            let mut w = BufWriter::new(f);
            dante::eval::synth::auth_logs(&cfg, &mut w)
                .and_then(|i| w.flush().map(|()| i))
                .with_context(|| format!("writing {}", p.display()))?
        }
        None => {
            let mut w = BufWriter::new(io::stdout().lock());
            let i = dante::eval::synth::auth_logs(&cfg, &mut w)?;
            w.flush()?;
            i
        }
    };
    if let Some(p) = &args.labels {
        let mut text = String::new();
        for i in &injected {
            text.push_str(&format!("{}\t{}\t{}\n", i.line, i.user, i.what));
        }
        std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn simulate_cert(args: SimulateCertArgs) -> Result<ExitCode> {
    use dante::cert::simulate::{SimConfig, run};
    let cfg = SimConfig {
        users: args.users,
        days: args.days,
        seed: args.seed,
        scenarios: args.scenarios.0,
        insiders_per_scenario: args.insiders,
        start_day: args.start,
    };
    let start = Instant::now();
    let s = run(&cfg, &args.out)?;
    let rows: u64 = s.rows.iter().sum();
    eprintln!(
        "dante simulate cert: {} employees, {} days, {rows} rows (logon {}, device {}, http {}, email {}, file {}), {:.1} MiB, {} insider(s) in {}; {:.2}s",
        s.employees,
        cfg.days,
        s.rows[0],
        s.rows[1],
        s.rows[2],
        s.rows[3],
        s.rows[4],
        s.bytes as f64 / (1 << 20) as f64,
        s.insiders.len(),
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    for i in &s.insiders {
        eprintln!(
            "  scenario {} {}: {} to {}, {} rows",
            i.scenario,
            i.user,
            dante::cert::time::format(i.start),
            dante::cert::time::format(i.end),
            i.rows
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn load_config(path: Option<&std::path::Path>) -> Result<dante::config::Config> {
    Ok(match path {
        Some(p) => dante::config::Config::load(p)?,
        None => dante::config::Config::embedded(),
    })
}

/// `dante run`: logs to stderr (RUST_LOG sets the level), stops on SIGTERM or SIGINT, reloads
/// the configuration on SIGHUP (an invalid one is reported and the running one kept).
fn run_agent(args: RunArgs) -> Result<ExitCode> {
    // Learn mode's training (candle) on one thread too: an endpoint's cores are its owner's.
    set_training_threads(None);
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut cfg = load_config(args.config.as_deref())?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing signal handlers")?;
        let mut int = signal(SignalKind::interrupt()).context("installing signal handlers")?;
        let mut hup = signal(SignalKind::hangup()).context("installing signal handlers")?;
        // Listening sockets outlive a reload, so that nothing sent meanwhile is refused.
        let kept = dante::source::listeners::Listeners::default();
        loop {
            let stop = tokio_util::sync::CancellationToken::new();
            let mut agent = tokio::spawn(dante::agent::run(cfg.clone(), Some(metrics.clone()), kept.clone(), stop.clone()));
            let mut reload = None;
            let result = loop {
                tokio::select! {
                    r = &mut agent => break r,
                    _ = term.recv() => { tracing::info!("SIGTERM: draining"); stop.cancel(); }
                    _ = int.recv() => { tracing::info!("SIGINT: draining"); stop.cancel(); }
                    _ = hup.recv() => match load_config(args.config.as_deref()) {
                        Ok(new) => {
                            tracing::info!("SIGHUP: configuration reloaded, restarting the pipeline");
                            reload = Some(new);
                            stop.cancel();
                        }
                        Err(e) => tracing::error!(error = %format!("{e:#}"), "SIGHUP: configuration not reloaded"),
                    },
                }
            };
            result.context("the agent task failed")??;
            match reload {
                Some(new) => cfg = new,
                None => return Ok(ExitCode::SUCCESS),
            }
        }
    })
}

fn score(args: ScoreArgs) -> Result<ExitCode> {
    let ScoreOutput::Tsv = args.output;
    let model = model_file::load(&args.model)?;
    let data = sessions::read(&args.sessions)?;
    let threads = threads_or_cores(args.threads);
    let start = Instant::now();
    let refs: Vec<&[KeyId]> = data.iter().map(|s| s.keys.as_slice()).collect();
    let verdicts = score_all(&model, &refs, threads, DEFAULT_CACHE_STATES);
    let events: usize = refs.iter().map(|s| s.len()).sum();
    let mut out = BufWriter::with_capacity(1 << 18, io::stdout().lock());
    let mut flagged = 0usize;
    for (n, v) in verdicts.iter().enumerate() {
        flagged += usize::from(v.anomalous);
        let line = match &v.first {
            None => format!(
                "{}\t{}\t{:.6}\t\t\t\t{:.3}\n",
                n + 1,
                u8::from(v.anomalous),
                v.score,
                v.surprise
            ),
            Some(e) => {
                let expected: Vec<String> = e
                    .expected
                    .iter()
                    .map(|(k, p)| format!("{k}:{p:.3}"))
                    .collect();
                let seen = e.seen.map_or_else(|| "end".to_string(), |k| k.to_string());
                format!(
                    "{}\t{}\t{:.6}\t{}\t{seen}\t{}\t{:.3}\n",
                    n + 1,
                    u8::from(v.anomalous),
                    v.score,
                    e.position + 1,
                    expected.join(","),
                    v.surprise
                )
            }
        };
        if let Err(e) = out.write_all(line.as_bytes()) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(e).context("writing output");
        }
    }
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => return Err(e).context("writing output"),
        _ => {}
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "dante score: {} sessions, {} anomalous, {} keys in {:.3}s ({:.0} events/s), g = {}",
        data.len(),
        flagged,
        events,
        secs,
        events as f64 / secs.max(1e-9),
        model.g
    );
    Ok(ExitCode::SUCCESS)
}
