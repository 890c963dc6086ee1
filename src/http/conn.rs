//! The error envelope for answers hyper makes itself.
//!
//! A request hyper cannot parse never reaches the router: hyper answers it on its own
//! with an empty body and closes the connection (400 for a malformed request line or
//! header, 414 for a URI over its limit, 431 for more than 100 headers or a head over
//! its buffer). [`Acceptor`] wraps every accepted connection (after TLS) so that such
//! an answer leaves in the error envelope instead, with the same status, code
//! `VALIDATION_ERROR`, a fresh request id and `Connection: close`.
//!
//! Telling hyper's answer apart from everything else on the connection: it is one
//! write of a bare HTTP/1 head (`HTTP/1.x 400|414|431`, only `content-length: 0`,
//! `date` and `connection` headers, nothing after the blank line), while every answer
//! that went through the router carries `x-request-id` and bodies are written after
//! their head. HTTP/2 connections never start a write with `HTTP/1.`, so they pass
//! through untouched.
//!
//! The same wrapper closes connections gently (the "lingering close" of Apache and
//! nginx): when an answer is sent before the request body was read to its end (a 413, or
//! a 401 that refuses before reading) the connection is closed with unread bytes in the
//! kernel's buffer, and a close then resets it (RFC 9112 §9.6 warns of exactly this),
//! which can destroy the answer before the client reads it. After the connection's write
//! side is shut, [`Stream`] therefore reads and discards what the client still sends, for
//! at most [`LINGER`] and [`LINGER_BYTES`], before the socket is closed.

use crate::error::Error;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Wraps the streams an inner acceptor (TLS) yields in [`Stream`].
#[derive(Clone, Debug)]
pub struct Acceptor<A> {
    inner: A,
}

impl<A> Acceptor<A> {
    /// Wraps `inner`, whose streams carry plain HTTP (i.e. after TLS).
    pub fn new(inner: A) -> Self {
        Self { inner }
    }
}

impl<A, I, S> axum_server::accept::Accept<I, S> for Acceptor<A>
where
    A: axum_server::accept::Accept<I, S>,
    A::Future: Send + 'static,
    A::Stream: AsyncRead + Unpin + Send + 'static,
{
    type Stream = Stream<A::Stream>;
    type Service = A::Service;
    type Future = futures::future::BoxFuture<'static, io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let fut = self.inner.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = fut.await?;
            Ok((Stream::new(stream), service))
        })
    }
}

/// How long a shut connection may keep draining what its client still sends.
pub const LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// The most a shut connection reads and discards, bytes.
pub const LINGER_BYTES: usize = 8 * 1024 * 1024;

/// A connection whose hyper-made error answers are rewritten into the envelope, and
/// which drains its client's unread bytes after its write side is shut.
pub struct Stream<S: AsyncRead + Unpin + Send + 'static> {
    /// The connection; `None` only once [`Drop`] handed it to the draining task.
    inner: Option<S>,
    /// The envelope answer still to be written, and how much of it was.
    pending: Option<(Vec<u8>, usize)>,
    /// The write side was shut (the last answer is out): linger on drop.
    shut: bool,
}

impl<S: AsyncRead + Unpin + Send + 'static> Stream<S> {
    fn new(inner: S) -> Self {
        Self {
            inner: Some(inner),
            pending: None,
            shut: false,
        }
    }

    /// The connection, pinned for one poll.
    fn io(&mut self) -> io::Result<Pin<&mut S>> {
        match self.inner.as_mut() {
            Some(s) => Ok(Pin::new(s)),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl<S: AsyncRead + Unpin + Send + 'static> Drop for Stream<S> {
    fn drop(&mut self) {
        let (Some(mut io), true) = (self.inner.take(), self.shut) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 16 * 1024];
            let mut left = LINGER_BYTES;
            let drain = async {
                while left > 0 {
                    match io.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n),
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER, drain).await;
        });
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream<S> {
    /// Writes what is left of a replaced answer; ready when nothing is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.pending {
            if *done == bytes.len() {
                self.pending = None;
                break;
            }
            let Some(io) = self.inner.as_mut() else {
                return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
            };
            let n = ready!(Pin::new(io).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin + Send + 'static> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.io()?.poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(envelope) = rewrite(buf) {
            self.pending = Some((envelope, 0));
            // Hyper's bytes count as written; the envelope goes out in their place.
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        self.io()?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && let Some(envelope) = rewrite(only)
        {
            self.pending = Some((envelope, 0));
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(only.len()));
        }
        self.io()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(|s| s.is_write_vectored())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        self.io()?.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        ready!(self.io()?.poll_shutdown(cx))?;
        self.shut = true;
        Poll::Ready(Ok(()))
    }
}

/// The envelope answer to send instead of `buf`, when `buf` is an answer hyper made
/// on its own for a request it could not parse.
fn rewrite(buf: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(buf).ok()?;
    let rest = head.strip_prefix("HTTP/1.")?;
    let head = head.strip_suffix("\r\n\r\n")?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code: u16 = rest.get(2..5)?.parse().ok()?;
    let message = match code {
        400 => "malformed HTTP request",
        414 => "request URI is too long",
        431 => "request header fields are too large (at most 100 headers)",
        _ => return None,
    };
    let mut date = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" if value.trim() == "0" => {}
            "connection" => {}
            "date" => date = Some(value.trim()),
            _ => return None,
        }
    }
    let request_id = crate::ids::new_id("req");
    let body = super::error::envelope_bytes(&Error::validation(message), request_id.clone());
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n{}: {request_id}\r\n",
        body.len(),
        super::request_id::HEADER,
    );
    if let Some(date) = date {
        out.push_str(&format!("date: {date}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    fn parse(out: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8(out.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_string(), serde_json::from_str(body).unwrap())
    }

    #[test]
    fn hypers_own_error_answers_become_the_envelope() {
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 15:00:00 GMT\r\n\r\n";
        let (head, body) = parse(&rewrite(hyper).unwrap());
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        assert!(head.contains("date: Thu, 03 Dec 2026"), "{head}");
        assert!(head.contains("x-request-id: req_"), "{head}");
        let id = body["error"]["request_id"].as_str().unwrap();
        assert!(
            head.contains(id),
            "the header and the body carry one id: {head}"
        );
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        let bad = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            parse(&rewrite(bad).unwrap()).1["error"]["code"],
            "VALIDATION_ERROR"
        );
    }

    #[test]
    fn everything_else_passes_untouched() {
        for other in [
            // The router's answers carry a request id.
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-request-id: req_1\r\n\r\n"[..],
            // A head with a body after it, or another status.
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            // Body bytes and HTTP/2 frames.
            b"0\r\n\r\n",
            b"\x00\x00\x12\x04\x00\x00\x00\x00\x00",
        ] {
            assert!(
                rewrite(other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
