//! `[api]`: the local HTTP endpoint for `/metrics` (Prometheus text) and `/health`.

use serde::Deserialize;

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Serve the API.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// `IP:port` to listen on; keep it on loopback.
    #[serde(default = "default_address")]
    pub address: String,
}

fn default_enabled() -> bool {
    true
}

fn default_address() -> String {
    "127.0.0.1:8699".into()
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            address: default_address(),
        }
    }
}

impl ApiConfig {
    /// Checks the address.
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.address
            .parse::<std::net::SocketAddr>()
            .map(|_| ())
            .map_err(|e| {
                (
                    "address".into(),
                    format!("expected IP:port, got {:?}: {e}", self.address),
                )
            })
    }
}

/// Serves `/metrics` and `/health` on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    stop: tokio_util::sync::CancellationToken,
) {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move { m.map(|h| h.render()).unwrap_or_default() }
            }),
        )
        .route("/health", get(|| async { "ok\n" }));
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
    {
        tracing::error!(error = %e, "api server failed");
    }
}
