//! Facts from `show version` of IOS and NX-OS, as NAPALM's `get_facts` reads them:
//! model, serial number, OS version and uptime. A line that is not there leaves its
//! field empty; nothing here fails.

use super::model::SystemInfo;
use regex::Regex;
use std::sync::LazyLock;

use super::cli::pattern as re;

static VERSION: LazyLock<[Regex; 3]> = LazyLock::new(|| {
    [
        re(r"(?mi)^\s*NXOS: version (\S+)"),
        re(r"(?mi)^\s*system:\s+version (\S+)"),
        re(r"(?mi)Cisco .*Software.*?,? Version ([^\s,]+)"),
    ]
});
static MODEL: LazyLock<[Regex; 2]> = LazyLock::new(|| {
    [
        re(r"(?mi)^\s*cisco (Nexus\S*(?: \S+)*?) (?:Chassis|chassis)"),
        re(r"(?mi)^\s*cisco (\S+) .*(?:processor|bytes of memory)"),
    ]
});
static SERIAL: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?mi)^\s*(?:Processor board ID|System serial number\s*:)\s*(\S+)"));
static UPTIME: LazyLock<Regex> = LazyLock::new(|| re(r"(?mi)uptime is (.+)$"));

fn first(res: &[Regex], text: &str) -> Option<String> {
    res.iter()
        .find_map(|r| r.captures(text))
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim().to_string())
}

/// What `show version` says; `hostname` from the prompt.
pub fn from_show_version(text: &str, hostname: &str) -> SystemInfo {
    SystemInfo {
        model: first(&MODEL[..], text),
        serial: first(std::slice::from_ref(&*SERIAL), text),
        os_version: first(&VERSION[..], text),
        uptime: first(std::slice::from_ref(&*UPTIME), text),
        hostname: Some(hostname.to_string()).filter(|h| !h.is_empty()),
    }
}

/// What Junos's `<get-software-information/>` reply says (`product-model`,
/// `junos-version`, `host-name`).
pub fn from_junos(reply: &str) -> SystemInfo {
    let t = |n: &str| super::netconf::first_text(reply, n).filter(|s| !s.is_empty());
    SystemInfo {
        model: t("product-model"),
        serial: None,
        os_version: t("junos-version"),
        uptime: None,
        hostname: t("host-name"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ios_and_nxos() {
        let ios = "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 15.0(2)SE4, RELEASE SOFTWARE (fc1)\n\
                   sw1 uptime is 3 weeks, 2 days, 1 hour, 5 minutes\n\
                   cisco WS-C2960-24TT-L (PowerPC405) processor (revision B0) with 65536K bytes of memory.\n\
                   Processor board ID FOC1234X0AB\n";
        let f = from_show_version(ios, "sw1");
        assert_eq!(f.os_version.as_deref(), Some("15.0(2)SE4"));
        assert_eq!(f.model.as_deref(), Some("WS-C2960-24TT-L"));
        assert_eq!(f.serial.as_deref(), Some("FOC1234X0AB"));
        assert_eq!(
            f.uptime.as_deref(),
            Some("3 weeks, 2 days, 1 hour, 5 minutes")
        );
        let nx = "Software\n  NXOS: version 9.3(8)\nHardware\n  cisco Nexus9000 C9300v Chassis\n  Processor Board ID 9N3KD63KWT0\nKernel uptime is 0 day(s), 1 hour(s)\n";
        let f = from_show_version(nx, "switch");
        assert_eq!(f.os_version.as_deref(), Some("9.3(8)"));
        assert_eq!(f.model.as_deref(), Some("Nexus9000 C9300v"));
        assert_eq!(f.serial.as_deref(), Some("9N3KD63KWT0"));
        assert_eq!(f.uptime.as_deref(), Some("0 day(s), 1 hour(s)"));
        assert_eq!(from_show_version("", "").os_version, None);
    }
}
