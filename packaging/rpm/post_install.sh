# mcpd %post: $1 = 1 on first install, 2+ on upgrade.
# First install: enable but do not start (review /etc/mcpd/mcpd.toml first; the first
# start initialises /var/lib/mcpd). Upgrade: the restart happens in %postun.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
    systemctl enable mcpd.service >/dev/null 2>&1 || :
fi
exit 0
