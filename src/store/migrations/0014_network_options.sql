-- Per-device session options (connect timeout, keepalive, auto-connect) as JSON.
ALTER TABLE network_devices ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
