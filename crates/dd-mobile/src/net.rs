//! Connecting as a credential: its own key, its pinned agent key.

use dd_client_core::{connect_with, ClientError, ConnectOptions, Connection};
use dd_proto::noise::StaticKeypair;

use crate::credential::StoredCredential;
use crate::error::MobileError;

/// The client name the agent logs for this core.
pub const CLIENT_NAME: &str = concat!("dd-mobile/", env!("CARGO_PKG_VERSION"));

/// Everything needed to open a connection as one credential.
pub(crate) struct Dialer {
    pub(crate) agent_url: String,
    pub(crate) agent_key: [u8; 32],
    pub(crate) key: StaticKeypair,
    /// Timeouts, TLS trust, keepalive: the companion's current settings.
    pub(crate) opts: ConnectOptions,
}

impl Dialer {
    /// The dialer of a stored credential.
    pub(crate) fn of(c: &StoredCredential, opts: ConnectOptions) -> Result<Dialer, MobileError> {
        Ok(Dialer {
            agent_url: c.credential.agent_url.clone(),
            agent_key: c.agent_key()?,
            key: c.keypair()?,
            opts,
        })
    }

    /// Connects (handshake included).
    pub(crate) async fn connect(&self) -> Result<Connection, ClientError> {
        let (conn, _welcome) = connect_with(
            &self.agent_url,
            &self.agent_key,
            &self.key,
            CLIENT_NAME,
            self.opts.clone(),
        )
        .await?;
        Ok(conn)
    }

    /// Connects, makes one call, closes.
    pub(crate) async fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let conn = self.connect().await?;
        let result = conn.call(method, params).await;
        conn.close().await;
        result
    }
}
