# mcpd %postun: $1 = 0 after erase, 1+ after upgrade (restart a running daemon).
# RPM has no purge: the state in /var/lib/mcpd stays until removed by hand.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart mcpd.service >/dev/null 2>&1 || :
    fi
fi
exit 0
