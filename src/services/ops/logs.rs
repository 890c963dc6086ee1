//! Container logs of a service: stdout and stderr demultiplexed into one text stream.
//! With several containers and no `replica`, each line is prefixed with its
//! container's name (`mcpd-web-2 | …`).
//!
//! Followed logs are a stream owned by the response body: when the client goes away,
//! the body, and with it the engine's log stream, is dropped; it also ends when the
//! container stops or the daemon shuts down. No task is spawned.

use super::Target;
use crate::app::AppState;
use crate::error::{Error, Result};
use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt};

/// Lines returned when `tail` is not given.
pub const DEFAULT_TAIL: u32 = 100;
/// Largest `tail`.
pub const MAX_TAIL: u32 = 10_000;
/// A one-shot read stops after this many bytes (a note says so at the end).
pub const MAX_ONE_SHOT_BYTES: usize = 16 * 1024 * 1024;

/// `GET /services/{id}/logs` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// Last lines per container, 0..=[`MAX_TAIL`].
    pub tail: u32,
    /// Only entries at or after this time, in Unix seconds.
    pub since: Option<i64>,
    /// Only entries before this time, in Unix seconds (seed 003's `until`).
    pub until: Option<i64>,
    /// Prefix each line with Docker's RFC 3339 timestamp.
    pub timestamps: bool,
    /// Keep streaming new lines.
    pub follow: bool,
    /// Only this replica's container.
    pub replica: Option<u32>,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            tail: DEFAULT_TAIL,
            since: None,
            until: None,
            timestamps: false,
            follow: false,
            replica: None,
        }
    }
}

impl LogOptions {
    /// Parses decoded query pairs (`tail`, or `lines` as seed 003 names it; `since` and
    /// `until` as RFC 3339 or Unix seconds; `timestamps`, `follow`, `replica`); a bad or
    /// unknown parameter is a 400 naming it.
    pub fn parse(pairs: &[(String, String)]) -> Result<LogOptions> {
        let mut o = LogOptions::default();
        for (k, v) in pairs {
            match k.as_str() {
                "tail" | "lines" => {
                    o.tail = v
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n <= MAX_TAIL)
                        .ok_or_else(|| {
                            Error::field(k, format!("must be an integer from 0 to {MAX_TAIL}"))
                        })?
                }
                "since" | "until" => {
                    let t = Some(parse_time(k, v)?);
                    if k == "since" {
                        o.since = t
                    } else {
                        o.until = t
                    }
                }
                "timestamps" => o.timestamps = parse_bool("timestamps", v)?,
                "follow" => o.follow = parse_bool("follow", v)?,
                "replica" => o.replica = Some(super::parse_replica("replica", v)?),
                other => return Err(Error::field(other, "unknown query parameter")),
            }
        }
        Ok(o)
    }
}

fn parse_bool(field: &str, v: &str) -> Result<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::field(field, "must be true or false")),
    }
}

/// `since` or `until` (`field`): Unix seconds or an RFC 3339 time (or a date alone).
fn parse_time(field: &str, v: &str) -> Result<i64> {
    let secs = match v.parse::<i64>() {
        Ok(n) => n,
        Err(_) => crate::time::parse_input(v)
            .map(|t| t.unix_timestamp())
            .ok_or_else(|| Error::field(field, "must be an RFC 3339 time or Unix seconds"))?,
    };
    if !(0..=i32::MAX as i64).contains(&secs) {
        return Err(Error::field(field, "is out of range"));
    }
    Ok(secs)
}

/// Text chunks of a log, ready for a response body.
pub type LogStream = BoxStream<'static, std::result::Result<Bytes, std::io::Error>>;

/// The logs of service `id_or_name`. One-shot reads are gathered first, so engine
/// errors still become proper error responses; followed logs stream.
pub async fn logs(app: &AppState, id_or_name: &str, opts: &LogOptions) -> Result<LogStream> {
    let target = Target::load(app, id_or_name, opts.replica).await?;
    let prefix = target.containers.len() > 1;
    let per_container: Vec<_> = target
        .containers
        .iter()
        .map(|c| {
            let options = bollard::query_parameters::LogsOptions {
                follow: opts.follow,
                stdout: true,
                stderr: true,
                since: opts.since.unwrap_or(0) as i32,
                until: opts.until.unwrap_or(0) as i32,
                timestamps: opts.timestamps,
                tail: opts.tail.to_string(),
            };
            let mut prefixer = prefix.then(|| LinePrefixer::new(&c.name));
            target
                .docker
                .logs(&crate::docker::path_segment(&c.id), Some(options))
                .map(move |item| {
                    item.map(|out| {
                        let bytes = out.into_bytes();
                        match prefixer.as_mut() {
                            Some(p) => p.apply(&bytes),
                            None => bytes,
                        }
                    })
                })
                .boxed()
        })
        .collect();

    if !opts.follow {
        let mut out = BytesMut::new();
        for mut s in per_container {
            while let Some(chunk) = s.next().await {
                let chunk = chunk.map_err(crate::docker::map_err)?;
                out.extend_from_slice(&chunk);
                if out.len() > MAX_ONE_SHOT_BYTES {
                    out.truncate(MAX_ONE_SHOT_BYTES);
                    out.extend_from_slice(b"\n[mcpd: output truncated; use tail or since]\n");
                    return Ok(stream::iter([Ok(out.freeze())]).boxed());
                }
            }
        }
        return Ok(stream::iter([Ok(out.freeze())]).boxed());
    }

    let merged = stream::select_all(per_container);
    let closed = ClosedLog {
        service: target.service.name.clone(),
    };
    tracing::debug!(service = %closed.service, "log follow stream opened");
    let shutdown = app.shutdown.clone().cancelled_owned();
    Ok(with_guard(merged.take_until(shutdown), closed)
        .map(|item| item.map_err(std::io::Error::other))
        .boxed())
}

/// Logs when a followed log stream is dropped (client gone, container stopped or
/// shutdown), so that a leak would show.
struct ClosedLog {
    service: String,
}

impl Drop for ClosedLog {
    fn drop(&mut self) {
        tracing::debug!(service = %self.service, "log follow stream closed");
    }
}

/// Ties `guard`'s lifetime to the stream's.
fn with_guard<S: Stream + Send + 'static, G: Send + 'static>(
    s: S,
    guard: G,
) -> impl Stream<Item = S::Item> + Send + 'static {
    s.map(move |item| {
        let _ = &guard;
        item
    })
}

/// Inserts `<name> | ` at the start of every line, across chunk boundaries.
struct LinePrefixer {
    prefix: Vec<u8>,
    at_line_start: bool,
}

impl LinePrefixer {
    fn new(name: &str) -> Self {
        Self {
            prefix: format!("{name} | ").into_bytes(),
            at_line_start: true,
        }
    }

    fn apply(&mut self, chunk: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(chunk.len() + self.prefix.len());
        for &b in chunk {
            if self.at_line_start {
                out.extend_from_slice(&self.prefix);
                self.at_line_start = false;
            }
            out.push(b);
            if b == b'\n' {
                self.at_line_start = true;
            }
        }
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<LogOptions> {
        let pairs: Vec<_> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        LogOptions::parse(&pairs)
    }

    #[test]
    fn parses_and_names_bad_parameters() {
        assert_eq!(parse(&[]).unwrap(), LogOptions::default());
        let o = parse(&[
            ("tail", "5"),
            ("since", "2026-01-01T00:00:00Z"),
            ("timestamps", "true"),
            ("follow", "false"),
            ("replica", "2"),
        ])
        .unwrap();
        assert_eq!(o.tail, 5);
        assert_eq!(o.since, Some(1_767_225_600));
        assert!(o.timestamps && !o.follow);
        assert_eq!(o.replica, Some(2));
        assert_eq!(
            parse(&[("since", "1700000000")]).unwrap().since,
            Some(1_700_000_000)
        );
        // Seed 003's names: `lines` for `tail`, and `until`.
        let o = parse(&[("lines", "7"), ("until", "2026-01-01")]).unwrap();
        assert_eq!((o.tail, o.until), (7, Some(1_767_225_600)));
        for (k, v) in [
            ("lines", "10001"),
            ("until", "tomorrow"),
            ("tail", "x"),
            ("tail", "10001"),
            ("since", "yesterday"),
            ("since", "-5"),
            ("follow", "yes"),
            ("replica", "0"),
            ("bogus", "1"),
        ] {
            let e = parse(&[(k, v)]).unwrap_err();
            assert_eq!(e.details[0].field, k, "{k}={v}");
        }
    }

    #[test]
    fn prefixes_lines_across_chunks() {
        let mut p = LinePrefixer::new("c1");
        let a = p.apply(b"hel");
        let b = p.apply(b"lo\nwor");
        let c = p.apply(b"ld\n");
        let all = [a, b, c].concat();
        assert_eq!(String::from_utf8(all).unwrap(), "c1 | hello\nc1 | world\n");
    }
}
