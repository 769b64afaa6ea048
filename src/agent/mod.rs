//! The agent (`dante run`): wires the stages together and runs them until told to stop.
//!
//! Sources run as tokio tasks and send [`crate::source::Batch`]es into one bounded channel; the
//! synchronous core ([`pipeline`]) runs on its own thread and takes them through keys, users,
//! scoring and the sinks, in order. `[api]` serves `/metrics` and `/health` on loopback. On
//! shutdown the sources stop reading, the core drains what they sent (acknowledging it, so file
//! checkpoints advance), and the key vocabulary and the users' states are saved to `data_dir`.

pub mod api;
pub mod learn;
pub mod pipeline;

pub use api::ApiConfig;

use crate::config::Config;
use crate::keys::{Format, KeyExtractor, MinerConfig, vocab};
use crate::model::settings::Mode;
use crate::model::{Model, bundled, file as model_file};
use crate::score::alert::ModelRef;
use crate::sink::Sink;
use crate::source::listeners::Listeners;
use crate::source::{self, Context, SourceConfig};
use crate::user::Attributor;
use metrics_exporter_prometheus::PrometheusHandle;
use pipeline::{Pipeline, SourceInfo};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Batches queued between the sources and the core. A full queue of line batches (up to 1,024
/// parsed events, ~300 KiB) is what the process holds when reading faster than it scores: 8 of
/// them decouple the sources from the core (~30 ms of lines at full speed); 64 cost ~20 MiB.
const QUEUE_BATCHES: usize = 8;

/// How often idle users are dropped and state is saved.
const TICK: Duration = Duration::from_secs(30);

/// The agent could not start (or its state could not be saved at the end).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// A key of the configuration is unusable at run time (a port taken, a file unreadable).
    #[error("{key}: {message}")]
    Setup {
        /// The configuration key (`sources.syslog.address`).
        key: String,
        /// Why.
        message: String,
    },
    /// The state directory is unusable.
    #[error("data_dir {path}: {message}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        message: String,
    },
}

fn setup(key: impl Into<String>, message: impl ToString) -> AgentError {
    AgentError::Setup {
        key: key.into(),
        message: message.to_string(),
    }
}

/// The agent's miner: a smaller exact-shape cache than `dante parse` uses, since a live stream's
/// shapes include every user name and the cache would otherwise grow to dominate memory.
fn miner_config() -> MinerConfig {
    MinerConfig {
        max_cache: 1 << 16,
        ..MinerConfig::default()
    }
}

/// The model and the key extractor whose ids it knows.
fn model_and_keys(cfg: &Config) -> Result<(Model, ModelRef, crate::keys::Miner), AgentError> {
    let data_dir = &cfg.data_dir;
    let saved = data_dir.join(vocab::VOCAB_FILE);
    let learned = (cfg.model.mode == Mode::Learn)
        .then(|| learn::learned(data_dir))
        .flatten();
    let (model, id) = match (&learned, &cfg.model.path) {
        (Some(p), _) => (
            model_file::load(p).map_err(|e| AgentError::DataDir {
                path: data_dir.display().to_string(),
                message: format!("{e} (move it away to learn again)"),
            })?,
            p.display().to_string(),
        ),
        (None, None) => (
            bundled::model().map_err(|e| setup("model", e))?,
            "bundled".to_string(),
        ),
        (None, Some(p)) => (
            model_file::load(p).map_err(|e| setup("model.path", e))?,
            p.display().to_string(),
        ),
    };
    let miner = if saved.exists() {
        vocab::load(data_dir, miner_config()).map_err(|e| AgentError::DataDir {
            path: data_dir.display().to_string(),
            message: e.to_string(),
        })?
    } else {
        // A first start: the vocabulary the model was trained with, checked against it.
        let miner = match &cfg.model.vocabulary {
            None => bundled::miner(miner_config()).map_err(|e| setup("model", e))?,
            Some(p) => {
                let bytes = std::fs::read(p)
                    .map_err(|e| setup("model.vocabulary", format!("{}: {e}", p.display())))?;
                vocab::from_bytes(&bytes, p, miner_config())
                    .map_err(|e| setup("model.vocabulary", e))?
            }
        };
        model_file::check_vocabulary(&model, &vocab::templates_hash(&miner))
            .map_err(|e| setup("model.vocabulary", e))?;
        miner
    };
    // Ids never change meaning, so every key the model knows must still be in the vocabulary
    // the agent grew from it; otherwise data_dir belongs to another model.
    if let Some(k) = model
        .vocab
        .keys()
        .iter()
        .find(|k| miner.template(miner.canonical(**k)).is_none())
    {
        return Err(AgentError::DataDir {
            path: data_dir.display().to_string(),
            message: format!(
                "its vocab.json lacks key {k} of the model: it was made with another model \
                 (move it away to start afresh)"
            ),
        });
    }
    let model_ref = ModelRef::new(id, &model);
    Ok((model, model_ref, miner))
}

/// Runs the agent with `cfg` until `shutdown` is cancelled or every source has ended.
/// `metrics`: the process's Prometheus recorder, rendered at `/metrics`; `kept`: listening
/// sockets carried from one run to the next across reloads.
pub async fn run(
    cfg: Config,
    metrics: Option<PrometheusHandle>,
    kept: Listeners,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| AgentError::DataDir {
        path: cfg.data_dir.display().to_string(),
        message: e.to_string(),
    })?;
    let (model, model_ref, miner) = model_and_keys(&cfg)?;
    let learning = cfg.model.mode == Mode::Learn && learn::learned(&cfg.data_dir).is_none();
    let users = Attributor::new(&cfg.users).map_err(|e| setup("users", e))?;
    let mut sinks = Vec::new();
    let mut deliveries = Vec::new();
    for (id, s) in &cfg.sinks {
        let (sink, delivery) =
            Sink::open(id, s, &cfg.data_dir).map_err(|e| setup(format!("sinks.{id}"), e))?;
        sinks.push(sink);
        deliveries.extend(delivery);
    }
    let mut infos = Vec::new();
    for (id, s) in &cfg.sources {
        let format: Format = s
            .format()
            .parse()
            .map_err(|e| setup(format!("sources.{id}.format"), e))?;
        infos.push(SourceInfo {
            id: id.clone(),
            format,
        });
    }
    let mut core = Pipeline::new(
        KeyExtractor::new(Format::Auto, miner),
        infos,
        &cfg.users,
        users,
        &model,
        model_ref,
        sinks,
        &cfg.data_dir,
    )
    .map_err(|e| AgentError::DataDir {
        path: cfg.data_dir.display().to_string(),
        message: e.to_string(),
    })?;
    if learning {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let learner = learn::Learner::start(&cfg.data_dir, &cfg.model, now_ms).map_err(|e| {
            AgentError::DataDir {
                path: cfg.data_dir.display().to_string(),
                message: e.to_string(),
            }
        })?;
        core.learn(learner);
    }

    // Bind every listener before anything runs: a taken port fails the start, named.
    let (tx, mut rx) = mpsc::channel::<source::Batch>(QUEUE_BATCHES);
    let stop_sources = shutdown.child_token();
    let mut tasks = JoinSet::new();
    kept.begin();
    for (index, (id, s)) in cfg.sources.iter().enumerate() {
        let cx = Context {
            id: id.clone(),
            index,
            out: tx.clone(),
            shutdown: stop_sources.clone(),
            data_dir: cfg.data_dir.clone(),
        };
        let key = format!("sources.{id}");
        match s.clone() {
            SourceConfig::File(c) => {
                tasks.spawn(async move {
                    source::file::run(c, cx)
                        .await
                        .map_err(|e| (key, e.to_string()))
                });
            }
            SourceConfig::Stdin(c) => {
                tasks.spawn(async move {
                    source::stdin::run(c, cx)
                        .await
                        .map_err(|e| (key, e.to_string()))
                });
            }
            SourceConfig::Syslog(c) => {
                let bound = source::syslog::bind_kept(&c, &kept)
                    .await
                    .map_err(|e| setup(format!("{key}.{}", e.key()), e))?;
                tasks.spawn(async move { bound.run(cx).await.map_err(|e| (key, e.to_string())) });
            }
            SourceConfig::Http(c) => {
                let bound = source::http::bind_kept(&c, &kept)
                    .await
                    .map_err(|e| setup(format!("{key}.address"), e))?;
                tasks.spawn(async move { bound.run(cx).await.map_err(|e| (key, e.to_string())) });
            }
        }
    }
    drop(tx);
    let mut api_task = None;
    if cfg.api.enabled {
        let cannot = |e: &dyn std::fmt::Display| {
            setup(
                "api.address",
                format!("cannot bind {}: {e}", cfg.api.address),
            )
        };
        let addr = cfg.api.address.parse().map_err(|e| cannot(&e))?;
        let listener = kept.tcp(addr).await.map_err(|e| cannot(&e))?;
        let stop = shutdown.clone();
        api_task = Some(tokio::spawn(api::serve(listener, metrics, stop)));
    }
    // Sockets the last run had and this one does not use are closed now.
    kept.end();
    // Webhook sinks post from their disk queues until shutdown; what is left goes out at the
    // next start.
    let deliveries: Vec<_> = deliveries
        .into_iter()
        .map(|d| tokio::spawn(d.run(shutdown.clone())))
        .collect();
    tracing::info!(
        sources = cfg.sources.len(),
        sinks = cfg.sinks.len(),
        data_dir = %cfg.data_dir.display(),
        "dante is running"
    );

    // The core on its own thread: it drains the channel until every source has dropped its
    // sender, then saves.
    let runtime = tokio::runtime::Handle::current();
    // The core's heartbeat (seconds since start), for systemd's watchdog: the service is alive
    // when the core is, not merely the runtime.
    let beat = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let core_beat = beat.clone();
    let core_thread = std::thread::Builder::new()
        .name("dante-core".into())
        .spawn(move || {
            let mut tick = Instant::now() + TICK;
            loop {
                let next = runtime.block_on(async {
                    tokio::select! {
                        b = rx.recv() => Some(b),
                        () = tokio::time::sleep(Duration::from_secs(1)) => None,
                    }
                });
                core_beat.store(started.elapsed().as_secs(), Ordering::Relaxed);
                core.poll_learning();
                match next {
                    Some(Some(batch)) => {
                        metrics::gauge!("dante_queue_depth").set(rx.len() as f64);
                        core.handle(batch);
                    }
                    Some(None) => break,
                    None => {}
                }
                if Instant::now() >= tick {
                    tick = Instant::now() + TICK;
                    core.tick();
                    if let Err(e) = core.save() {
                        tracing::error!(error = %e, "cannot save state");
                    }
                }
            }
            core.save()
        })
        .map_err(|e| setup("agent", format!("cannot start the core thread: {e}")))?;
    // Not under systemd these do nothing.
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    if let Some(every) = sd_notify::watchdog_enabled() {
        let stop = shutdown.clone();
        let beat = beat.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every / 2);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    () = stop.cancelled() => break,
                }
                let age = started
                    .elapsed()
                    .as_secs()
                    .saturating_sub(beat.load(Ordering::Relaxed));
                if Duration::from_secs(age) < every {
                    let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
                }
            }
        });
    }
    {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        });
    }

    // Sources end on shutdown, or on their own (stdin at its end); a failing one is logged and
    // the others go on.
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err((key, e))) => tracing::error!(source = %key, error = %e, "source stopped"),
            Err(e) => tracing::error!(error = %e, "source task failed"),
        }
    }
    let saved = tokio::task::spawn_blocking(move || core_thread.join())
        .await
        .map_err(|e| setup("agent", e))?
        .map_err(|_| setup("agent", "the core thread panicked"))?;
    shutdown.cancel();
    // The API has let go of its listener before returning (a reload takes it up from `kept`);
    // a reload's deliveries start on queues these have let go of.
    if let Some(t) = api_task {
        let _ = t.await;
    }
    for d in deliveries {
        let _ = d.await;
    }
    saved.map_err(|message| AgentError::DataDir {
        path: cfg.data_dir.display().to_string(),
        message,
    })
}
