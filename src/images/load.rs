//! Loading images from a `docker save` archive. The archive is streamed straight into
//! the engine's `POST /images/load` as it arrives, never held in memory, and cut off
//! at `docker.max_image_upload_bytes`.

use crate::app::App;
use crate::docker::map_err;
use crate::error::{Error, ErrorCode, Result};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::Serialize;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::Mutex;

/// What one load put into the engine.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Loaded {
    /// `repo:tag` names the archive carried, e.g. `["mcpd-test/app:1"]`.
    pub references: Vec<String>,
    /// Ids of images the archive carried without a name (`sha256:…`).
    pub image_ids: Vec<String>,
    /// Bytes received, as counted while streaming.
    pub size_bytes: u64,
}

/// The upload exceeded the configured cap.
#[derive(Debug)]
struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("image archive exceeds the configured upload limit")
    }
}

impl std::error::Error for TooLarge {}

/// Streams `archive` (a tar, optionally gzip/bzip2/xz compressed, as `docker save`
/// writes) into the engine. `declared_len` is the request's Content-Length if any.
///
/// Errors: `PAYLOAD_TOO_LARGE` past `docker.max_image_upload_bytes`;
/// `VALIDATION_ERROR` with the engine's message when it rejects the archive or the
/// archive holds no image; `DOCKER_UNAVAILABLE` when the engine is down.
pub async fn load<S, E>(app: &App, archive: S, declared_len: Option<u64>) -> Result<Loaded>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let cap = app.settings.docker.max_image_upload_bytes;
    // Shared so that what the engine did not read can still be drained (see `linger`).
    let archive: Shared<S> = Arc::new(Mutex::new(Box::pin(archive)));
    if declared_len.is_some_and(|n| n > cap) {
        linger(&archive).await;
        return Err(too_large(cap));
    }
    if declared_len == Some(0) {
        return Err(Error::validation(
            "the request body is empty: send an image tar",
        ));
    }
    let docker = app.docker.get().await?;
    let received = Arc::new(AtomicU64::new(0));
    let over = Arc::new(AtomicBool::new(false));
    let counted = counted(archive.clone(), cap, received.clone(), over.clone());
    let options = bollard::query_parameters::ImportImageOptions {
        quiet: true,
        ..Default::default()
    };
    let mut progress = docker.import_image_stream(options, counted, None);
    let mut loaded = Loaded {
        references: Vec::new(),
        image_ids: Vec::new(),
        size_bytes: 0,
    };
    while let Some(item) = progress.next().await {
        match item {
            Ok(info) => loaded.note(info.stream.as_deref().unwrap_or("")),
            Err(e) => {
                drop(progress);
                linger(&archive).await;
                if over.load(Ordering::Relaxed) {
                    return Err(too_large(cap));
                }
                return Err(rejected(e));
            }
        }
    }
    if over.load(Ordering::Relaxed) {
        linger(&archive).await;
        return Err(too_large(cap));
    }
    loaded.size_bytes = received.load(Ordering::Relaxed);
    if loaded.references.is_empty() && loaded.image_ids.is_empty() {
        return Err(Error::validation(
            "the archive held no image (expected the output of `docker save`)",
        ));
    }
    Ok(loaded)
}

type Shared<S> = Arc<Mutex<Pin<Box<S>>>>;

/// The archive as the engine reads it, counted into `received`: past `cap` bytes it
/// ends with an error and sets `over`.
fn counted<S, E>(
    archive: Shared<S>,
    cap: u64,
    received: Arc<AtomicU64>,
    over: Arc<AtomicBool>,
) -> impl Stream<Item = std::result::Result<Bytes, Box<dyn std::error::Error + Send + Sync>>>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    futures::stream::unfold(
        (archive, received, over),
        move |(src, received, over)| async move {
            let chunk = src.lock().await.next().await?;
            let item = match chunk {
                Err(e) => Err(e.into()),
                Ok(chunk) => {
                    let total = received.fetch_add(chunk.len() as u64, Ordering::Relaxed)
                        + chunk.len() as u64;
                    if total > cap {
                        over.store(true, Ordering::Relaxed);
                        Err(Box::new(TooLarge) as Box<dyn std::error::Error + Send + Sync>)
                    } else {
                        Ok(chunk)
                    }
                }
            };
            Some((item, (src, received, over)))
        },
    )
}

impl Loaded {
    /// Notes the images named in one progress message of the engine
    /// (`Loaded image ID: sha256:…`, `Loaded image: repo:tag`).
    fn note(&mut self, message: &str) {
        for line in message.lines() {
            if let Some(id) = line.trim().strip_prefix("Loaded image ID: ") {
                self.image_ids.push(id.trim().to_string());
            } else if let Some(r) = line.trim().strip_prefix("Loaded image: ") {
                self.references.push(r.trim().to_string());
            }
        }
    }
}

/// After refusing an upload part-way, how much more of it is read and dropped, and for
/// how long, before answering: a client still sending when the server answers and
/// closes sees a broken pipe instead of the error (the "lingering close" of web
/// servers). Bounded so a client cannot keep the request open.
const LINGER_BYTES: u64 = 64 * 1024 * 1024;
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(5);

async fn linger<S, E>(archive: &Shared<S>)
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Send,
{
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut left = LINGER_BYTES;
    // The engine connection may still hold the stream for a moment after it failed.
    let Ok(mut src) = tokio::time::timeout_at(deadline, archive.lock()).await else {
        return;
    };
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, src.next()).await {
        left = left.saturating_sub(chunk.len() as u64);
        if left == 0 {
            break;
        }
    }
}

fn too_large(cap: u64) -> Error {
    Error::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "image archive is larger than the limit of {cap} bytes (docker.max_image_upload_bytes)"
        ),
    )
}

/// The engine refused the archive: its own words, as a 400. Connection trouble stays
/// `DOCKER_UNAVAILABLE`.
fn rejected(e: bollard::errors::Error) -> Error {
    use bollard::errors::Error as B;
    match e {
        B::DockerStreamError { error } => {
            Error::validation(format!("Docker rejected the image archive: {error}"))
        }
        B::DockerResponseServerError {
            status_code,
            message,
        } if (400..=500).contains(&status_code) => {
            Error::validation(format!("Docker rejected the image archive: {message}"))
        }
        other => map_err(other),
    }
}
