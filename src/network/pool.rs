//! The session pool: at most one open CLI session per device. Work on one device is
//! serialized (its slot's async mutex is held for the whole call), different devices
//! run in parallel, and every blocking SSH call runs on the blocking thread pool with
//! the session moved there and back. A session unused for `network.idle_timeout_s` is
//! closed by [`Pool::close_idle`]; one opened with an older generation of the device's
//! connection settings is dropped before use.

use super::cli::Shell;
use super::netconf::Netconf;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An open session.
pub struct Live {
    /// The SSH session (kept alive with the shell).
    pub session: ssh2::Session,
    /// The CLI (IOS, NX-OS) or NETCONF (Junos) on it.
    pub link: Link,
    /// The device's connection generation it was opened with.
    pub generation: i64,
    /// When it was opened (RFC 3339).
    pub opened_at: String,
    /// Last use.
    pub used: Instant,
    /// Whether the device's options ask for SSH keepalives while it is idle.
    pub keepalive: bool,
}

/// How mcpd talks to a device over its session.
pub enum Link {
    /// An interactive CLI shell.
    Cli(Shell),
    /// A NETCONF subsystem channel.
    Netconf(Netconf),
}

fn wrong_link(what: &str) -> Error {
    Error::field(
        "device_type",
        format!("not available for this platform: it is driven over {what}"),
    )
}

impl Live {
    /// The CLI. Errors: 400 on `device_type` for a NETCONF device.
    pub fn cli(&mut self) -> Result<&mut Shell> {
        match &mut self.link {
            Link::Cli(s) => Ok(s),
            Link::Netconf(_) => Err(wrong_link("NETCONF")),
        }
    }

    /// The CLI and the SSH session it runs on (for SCP beside it). Errors as [`Live::cli`].
    pub fn cli_and_session(&mut self) -> Result<(&mut Shell, &ssh2::Session)> {
        match &mut self.link {
            Link::Cli(s) => Ok((s, &self.session)),
            Link::Netconf(_) => Err(wrong_link("NETCONF")),
        }
    }

    /// The NETCONF session. Errors: 400 on `device_type` for a CLI device.
    pub fn netconf(&mut self) -> Result<&mut Netconf> {
        match &mut self.link {
            Link::Netconf(n) => Ok(n),
            Link::Cli(_) => Err(wrong_link("its CLI")),
        }
    }
}

/// One device's place in the pool.
#[derive(Default)]
pub struct Slot {
    /// The open session, if any (taken out while a blocking call uses it).
    pub live: Option<Live>,
}

/// Every device's slot, by device id.
#[derive(Default)]
pub struct Pool {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl Pool {
    /// The slot of device `id` (made on first use).
    pub fn slot(&self, id: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(id.to_string()).or_default().clone()
    }

    /// Whether device `id` has an open session now (without waiting for its slot: a
    /// slot in use has one).
    pub fn is_open(&self, id: &str) -> bool {
        let slot = {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.get(id).cloned()
        };
        match slot {
            None => false,
            Some(s) => match s.try_lock() {
                Ok(g) => g.live.is_some(),
                Err(_) => true,
            },
        }
    }

    /// Closes and forgets device `id`'s session (waits for a call in progress).
    pub async fn close(&self, id: &str) -> bool {
        let slot = self.slot(id);
        let live = slot.lock().await.live.take();
        let had = live.is_some();
        if let Some(l) = live {
            drop_blocking(l).await;
        }
        had
    }

    /// Closes sessions unused for `idle` and sends due keepalives on the others that
    /// ask for them (libssh2 sends one only when its interval has passed); the device
    /// ids of the sessions closed.
    pub async fn close_idle(&self, idle: Duration) -> Vec<String> {
        let all: Vec<(String, Arc<tokio::sync::Mutex<Slot>>)> = {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let mut closed = Vec::new();
        for (id, slot) in all {
            let Ok(mut g) = slot.try_lock() else { continue };
            if g.live.as_ref().is_some_and(|l| l.used.elapsed() >= idle)
                && let Some(l) = g.live.take()
            {
                drop_blocking(l).await;
                closed.push(id);
            } else if let Some(l) = g.live.take_if(|l| l.keepalive) {
                let kept = blocking(move || {
                    let ok = l.session.keepalive_send().is_ok();
                    ok.then_some(l)
                })
                .await;
                g.live = kept.ok().flatten();
            }
        }
        closed
    }
}

/// Ends a session politely (NETCONF `close-session`, then SSH disconnect) off the
/// async runtime.
async fn drop_blocking(mut live: Live) {
    let _ = tokio::task::spawn_blocking(move || {
        if let Link::Netconf(n) = &mut live.link {
            n.close();
        }
        let _ = live
            .session
            .disconnect(None, "mcpd closes the session", None);
        drop(live);
    })
    .await;
}

/// Runs `f` on the blocking pool; a panic there is an internal error.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(anyhow::anyhow!("SSH worker failed: {e}")))
}
