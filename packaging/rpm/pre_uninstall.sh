# mcpd %preun: $1 = 0 on erase (stop and disable), 1+ on upgrade (keep running).
if [ "$1" -eq 0 ]; then
    systemctl disable --now mcpd.service >/dev/null 2>&1 || :
fi
exit 0
