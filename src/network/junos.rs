//! Junos over NETCONF, the way NAPALM and PyEZ drive it: configuration read from the
//! `running` or `candidate` datastore (XML), changes loaded into the candidate under a
//! lock with `edit-config` (`merge` or `replace` as the default operation), committed
//! with `commit` (confirmed, RFC 6241 §8.4, when asked), thrown away with
//! `discard-changes` when anything fails; rollback as Junos's `rollback 1`; CLI
//! commands through Junos's `<command>` RPC.

use super::config::Merged;
use super::model::PushMode;
use super::netconf::{Netconf, first_text, inner_xml};
use crate::error::{Error, ErrorCode, Result};
use std::time::Duration;

const CFG: ErrorCode = ErrorCode::NetworkConfigError;

/// `s` escaped for XML text and attribute values.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Writes element `n` and its descendants one element per line, indented by two
/// spaces per level (text kept on its element's line; namespaces and attributes left
/// out), so configurations diff line by line.
fn write_node(n: roxmltree::Node<'_, '_>, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let name = n.tag_name().name();
    let kids: Vec<_> = n.children().filter(roxmltree::Node::is_element).collect();
    let text = n.text().map(str::trim).unwrap_or("");
    if kids.is_empty() {
        out.push_str(&format!("{pad}<{name}>{}</{name}>\n", escape(text)));
        return;
    }
    out.push_str(&format!("{pad}<{name}>\n"));
    for k in kids {
        write_node(k, depth + 1, out);
    }
    out.push_str(&format!("{pad}</{name}>\n"));
}

/// 400 on `config` unless it is one well-formed XML element `<configuration>` (no
/// DTD), at most 1 MiB.
pub fn check_xml(config: &str) -> Result<()> {
    if config.len() > 1024 * 1024 {
        return Err(Error::field("config", "at most 1 MiB"));
    }
    let doc = roxmltree::Document::parse(config)
        .map_err(|e| Error::field("config", format!("not well-formed XML: {e}")))?;
    if doc.root_element().tag_name().name() != "configuration" {
        return Err(Error::field(
            "config",
            "a Junos configuration in XML: one <configuration> element",
        ));
    }
    Ok(())
}

/// The `source` datastore's configuration (XML, one element per line, without
/// namespaces and attributes such as Junos's commit stamps).
pub fn get_config(nc: &mut Netconf, source: &str, t: Duration) -> Result<String> {
    let op = format!("<get-config><source><{source}/></source></get-config>");
    let reply = nc.rpc(&op, ErrorCode::NetworkCommandError, t)?;
    let doc = roxmltree::Document::parse(&reply).map_err(|e| {
        Error::new(
            ErrorCode::NetworkCommandError,
            format!("the device's reply is not XML: {e}"),
        )
    })?;
    let mut out = String::new();
    if let Some(data) = doc.descendants().find(|n| n.tag_name().name() == "data") {
        for child in data.children().filter(roxmltree::Node::is_element) {
            write_node(child, 0, &mut out);
        }
    }
    Ok(out)
}

/// Loads `xml` into the candidate (locked meanwhile) and, with `commit`, commits; any
/// failure discards the candidate's changes. Answers running before and after (the
/// candidate, when not committed).
pub fn push(
    nc: &mut Netconf,
    (xml, mode): (&str, PushMode),
    commit: bool,
    t: Duration,
) -> Result<Merged> {
    nc.rpc("<lock><target><candidate/></target></lock>", CFG, t)?;
    let op = match mode {
        PushMode::Merge => "merge",
        PushMode::Replace => "replace",
    };
    let done = (|| {
        let before = get_config(nc, "running", t)?;
        let edit = format!(
            "<edit-config><target><candidate/></target><default-operation>{op}</default-operation><config>{xml}</config></edit-config>"
        );
        nc.rpc(&edit, CFG, t)?;
        if commit {
            nc.rpc("<commit/>", CFG, t)?;
        }
        let after = get_config(nc, if commit { "running" } else { "candidate" }, t)?;
        Ok(Merged { before, after })
    })();
    if done.is_err() {
        let _ = nc.rpc("<discard-changes/>", CFG, t);
    }
    let _ = nc.rpc("<unlock><target><candidate/></target></unlock>", CFG, t);
    done
}

/// Commits the candidate; with `confirm_timeout_s` a confirmed commit that Junos rolls
/// back unless confirmed by another commit within that time.
pub fn commit(nc: &mut Netconf, confirm_timeout_s: Option<u64>, t: Duration) -> Result<()> {
    let op = match confirm_timeout_s {
        Some(s) => format!("<commit><confirmed/><confirm-timeout>{s}</confirm-timeout></commit>"),
        None => "<commit/>".to_string(),
    };
    nc.rpc(&op, CFG, t).map(drop)
}

/// Uncommitted changes in the candidate are discarded; without any, the previous
/// committed configuration is loaded and committed (Junos `rollback 1`). Answers
/// running before and after.
pub fn rollback(nc: &mut Netconf, t: Duration) -> Result<Merged> {
    let before = get_config(nc, "running", t)?;
    if get_config(nc, "candidate", t)? != before {
        nc.rpc("<discard-changes/>", CFG, t)?;
        return Ok(Merged {
            after: before.clone(),
            before,
        });
    }
    nc.rpc("<load-configuration rollback=\"1\"/>", CFG, t)?;
    nc.rpc("<commit/>", CFG, t)?;
    let after = get_config(nc, "running", t)?;
    Ok(Merged { before, after })
}

/// Loads Junos's rollback configuration `n` (0 = the active one, 1 = the one before, up
/// to 49) into the candidate and commits it; a failure discards the candidate's
/// changes. Answers running before and after.
pub fn rollback_to(nc: &mut Netconf, n: u32, t: Duration) -> Result<Merged> {
    let before = get_config(nc, "running", t)?;
    let done = (|| {
        nc.rpc(&format!("<load-configuration rollback=\"{n}\"/>"), CFG, t)?;
        nc.rpc("<commit/>", CFG, t)
    })();
    if let Err(e) = done {
        let _ = nc.rpc("<discard-changes/>", CFG, t);
        return Err(e);
    }
    let after = get_config(nc, "running", t)?;
    Ok(Merged { before, after })
}

/// A CLI command through Junos's `<command>` RPC; its text output.
pub fn command(nc: &mut Netconf, cmd: &str, t: Duration) -> Result<String> {
    let op = format!("<command format=\"text\">{}</command>", escape(cmd));
    let reply = nc.rpc(&op, ErrorCode::NetworkCommandError, t)?;
    // Text answers come as <output>; `show configuration` as
    // <configuration-information><configuration-output> (what PyEZ's `cli()` reads).
    Ok(first_text(&reply, "output")
        .or_else(|| first_text(&reply, "configuration-output"))
        .or_else(|| inner_xml(&reply, "rpc-reply"))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_checked_escaped_and_laid_out() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert!(check_xml("<configuration><system/></configuration>").is_ok());
        for bad in [
            "<configuration>",
            "<system/>",
            "text",
            "<configuration/><x/>",
        ] {
            assert!(check_xml(bad).is_err(), "{bad}");
        }
        let xml = "<configuration><interfaces><interface><name>ge-0/0/1</name></interface></interfaces></configuration>";
        let doc = roxmltree::Document::parse(xml).unwrap();
        let mut p = String::new();
        write_node(doc.root_element(), 0, &mut p);
        assert_eq!(
            p,
            "<configuration>\n  <interfaces>\n    <interface>\n      <name>ge-0/0/1</name>\n    </interface>\n  </interfaces>\n</configuration>\n"
        );
    }
}
