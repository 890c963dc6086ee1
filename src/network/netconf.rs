//! A NETCONF client over an SSH `netconf` subsystem channel (blocking), as Junos is
//! driven (RFC 6241 operations, RFC 6242 transport with the base:1.0 end-of-message
//! framing `]]>]]>`): the hello exchange, then one `<rpc>` at a time with its
//! `<rpc-reply>`, whose `<rpc-error>` becomes an error carrying the device's
//! `error-message`.

use super::ssh::{ReadEnd, connection_error, read_until};
use crate::error::{Error, ErrorCode, Result};
use std::io::Write;
use std::time::{Duration, Instant};

/// RFC 6242 §4.3 end-of-message marker (base:1.0 framing).
const EOM: &str = "]]>]]>";
/// The NETCONF base namespace (RFC 6241).
pub const NS: &str = "urn:ietf:params:xml:ns:netconf:base:1.0";
/// Cap on one reply, bytes.
const MAX_REPLY: usize = 64 * 1024 * 1024;

/// An open NETCONF session.
pub struct Netconf {
    channel: ssh2::Channel,
    next_id: u64,
    /// The server's capabilities from its hello.
    pub capabilities: Vec<String>,
}

fn dropped(e: impl std::fmt::Display) -> Error {
    connection_error(format!("the device closed the NETCONF session: {e}"))
}

/// Text of the first element named `name` (any namespace) in `xml`.
pub fn first_text(xml: &str, name: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    doc.descendants()
        .find(|n| n.tag_name().name() == name)
        .map(|n| n.text().unwrap_or("").trim().to_string())
}

/// The XML inside the first element named `name` of `xml` (as the device wrote it).
pub fn inner_xml(xml: &str, name: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let node = doc.descendants().find(|n| n.tag_name().name() == name)?;
    let (first, last) = (node.first_child()?, node.last_child()?);
    Some(
        xml[first.range().start..last.range().end]
            .trim()
            .to_string(),
    )
}

impl Netconf {
    /// Opens the `netconf` subsystem on `session`, reads the server's hello and sends
    /// ours (base:1.0). Errors: `NETWORK_CONNECTION_ERROR`.
    pub fn start(session: &ssh2::Session, timeout: Duration) -> Result<Netconf> {
        session.set_timeout(super::cli::READ_SLICE_MS);
        let mut channel = session
            .channel_session()
            .map_err(|e| connection_error(format!("opening a channel: {e}")))?;
        channel
            .subsystem("netconf")
            .map_err(|e| connection_error(format!("the device has no NETCONF subsystem: {e}")))?;
        let mut nc = Netconf {
            channel,
            next_id: 1,
            capabilities: Vec::new(),
        };
        let hello = nc.read_message(Instant::now() + timeout)?;
        let doc = roxmltree::Document::parse(&hello)
            .map_err(|e| connection_error(format!("the device's NETCONF hello is not XML: {e}")))?;
        nc.capabilities = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "capability")
            .filter_map(|n| n.text().map(|t| t.trim().to_string()))
            .collect();
        let ours = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><hello xmlns=\"{NS}\"><capabilities><capability>{NS}</capability></capabilities></hello>"
        );
        nc.write_message(&ours)?;
        Ok(nc)
    }

    fn write_message(&mut self, xml: &str) -> Result<()> {
        self.channel
            .write_all(format!("{xml}\n{EOM}\n").as_bytes())
            .and_then(|()| self.channel.flush())
            .map_err(dropped)
    }

    fn read_message(&mut self, deadline: Instant) -> Result<String> {
        let eom = EOM.as_bytes();
        // Only the bytes just read, and the end of what came before (a marker split
        // across two reads), are searched: a long reply is not scanned again per read.
        let has_eom = |raw: &[u8], fresh: usize| {
            raw[fresh.saturating_sub(eom.len() - 1)..]
                .windows(eom.len())
                .any(|w| w == eom)
        };
        match read_until(&mut self.channel, deadline, MAX_REPLY, has_eom) {
            Ok(raw) => {
                let text = String::from_utf8_lossy(&raw);
                let at = text.find(EOM).unwrap_or(text.len());
                Ok(text[..at].trim().to_string())
            }
            Err(ReadEnd::Closed(why)) => Err(dropped(why)),
            Err(ReadEnd::TooBig) => Err(Error::new(
                ErrorCode::NetworkCommandError,
                format!("a NETCONF reply over {MAX_REPLY} bytes"),
            )),
            Err(ReadEnd::Late) => Err(Error::new(
                ErrorCode::GatewayTimeout,
                "the device gave no NETCONF reply in time",
            )),
        }
    }

    /// Sends one `<rpc>` holding `operation` (XML the caller built or checked) and
    /// returns its `<rpc-reply>`. An `<rpc-error>` of severity `error` is `code` with
    /// the device's `error-message`. Errors also: `NETWORK_CONNECTION_ERROR`,
    /// `GATEWAY_TIMEOUT`.
    pub fn rpc(&mut self, operation: &str, code: ErrorCode, timeout: Duration) -> Result<String> {
        let id = self.next_id;
        self.next_id += 1;
        self.write_message(&format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rpc message-id=\"{id}\" xmlns=\"{NS}\">{operation}</rpc>"
        ))?;
        let reply = self.read_message(Instant::now() + timeout)?;
        let doc = roxmltree::Document::parse(&reply)
            .map_err(|e| Error::new(code, format!("the device's NETCONF reply is not XML: {e}")))?;
        let failed = doc.descendants().find(|n| {
            n.tag_name().name() == "rpc-error"
                && n.children()
                    .find(|c| c.tag_name().name() == "error-severity")
                    .and_then(|c| c.text())
                    .is_none_or(|s| s.trim() == "error")
        });
        if let Some(err) = failed {
            let msg = err
                .descendants()
                .find(|c| c.tag_name().name() == "error-message")
                .and_then(|c| c.text())
                .or_else(|| {
                    err.descendants()
                        .find(|c| c.tag_name().name() == "error-tag")
                        .and_then(|c| c.text())
                })
                .unwrap_or("error")
                .trim()
                .to_string();
            return Err(Error::new(code, format!("the device answered: {msg}")));
        }
        Ok(reply)
    }

    /// Whether the channel is still open.
    pub fn is_open(&self) -> bool {
        !self.channel.eof()
    }

    /// Sends `<close-session/>` (best effort; the reply is not awaited).
    pub fn close(&mut self) {
        let _ = self.write_message(&format!(
            "<rpc message-id=\"{}\" xmlns=\"{NS}\"><close-session/></rpc>",
            self.next_id
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_by_element() {
        let reply = r#"<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1"><data><configuration><system><host-name>sw1</host-name></system></configuration></data></rpc-reply>"#;
        assert_eq!(first_text(reply, "host-name").as_deref(), Some("sw1"));
        assert_eq!(
            inner_xml(reply, "data").as_deref(),
            Some("<configuration><system><host-name>sw1</host-name></system></configuration>")
        );
        assert_eq!(inner_xml("<a/>", "a"), None);
        assert_eq!(first_text("not xml", "a"), None);
    }
}
