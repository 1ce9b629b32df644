//! HTTP routes: health, the Noise WebSocket, apple-app-site-association.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dd_proto::methods::Health;

use super::Agent;

/// Largest WebSocket message accepted at all. Bigger than a Noise message
/// on purpose: the connection checks the Noise limit itself and closes with
/// a clear `too_large` reason instead of a bare protocol error.
const WS_MAX_MESSAGE: usize = 128 * 1024;
/// Read and write buffer of each WebSocket.
const WS_BUFFER: usize = 16 * 1024;
/// Most bytes a WebSocket may hold unwritten before sends wait.
const WS_MAX_WRITE_BUFFER: usize = 256 * 1024;

pub(crate) fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route(dd_proto::HEALTH_PATH, get(health))
        .route(dd_proto::WS_PATH, get(noise_ws))
        .route("/.well-known/apple-app-site-association", get(aasa))
        .with_state(agent)
}

async fn health(State(agent): State<Arc<Agent>>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        protocol_version: dd_proto::PROTOCOL_VERSION,
        noise: dd_proto::NOISE_PARAMS.into(),
        agent_key: dd_proto::keys::encode_key(&agent.key.public()),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    })
}

async fn noise_ws(
    ws: WebSocketUpgrade,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(agent): State<Arc<Agent>>,
) -> Response {
    ws.max_message_size(WS_MAX_MESSAGE)
        .max_frame_size(WS_MAX_MESSAGE)
        // Smaller than tungstenite's 128 KiB defaults: one Noise message is
        // at most 64 KiB, and memory per companion matters at fan-out.
        .read_buffer_size(WS_BUFFER)
        .write_buffer_size(WS_BUFFER)
        .max_write_buffer_size(WS_MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| super::conn::run(agent, socket, peer))
}

/// Serves the association file iOS fetches before opening universal links,
/// when an app id is configured.
async fn aasa(State(agent): State<Arc<Agent>>) -> Response {
    match &agent.apple_app_id {
        Some(app_id) => Json(serde_json::json!({
            "applinks": {
                "details": [{
                    "appIDs": [app_id],
                    "components": [{ "/": "/pair", "comment": "dd pairing links" }]
                }]
            }
        }))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no app id configured (--apple-app-id)",
        )
            .into_response(),
    }
}
