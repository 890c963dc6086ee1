# mcpd %pre: create the mcpd system user and group (and the docker group the unit's
# SupplementaryGroups= names, when Docker has not created it yet).
getent group docker >/dev/null || groupadd -r docker
getent group mcpd >/dev/null || groupadd -r mcpd
getent passwd mcpd >/dev/null || useradd -r -g mcpd -d /var/lib/mcpd -M \
    -s /sbin/nologin -c "mcpd daemon" mcpd
exit 0
