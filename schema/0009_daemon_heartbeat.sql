-- Which daemons are alive: one row per manager or consumer instance, written when it starts and
-- refreshed on its heartbeat timer (the consumer's lease renewal, the manager's sweep). A row
-- whose last_heartbeat is older than a few heartbeat_s is a daemon that stopped or hung; rows
-- are kept (an operator sees what ran last night) and replaced by instance id, which is unique
-- across hosts and restarts ("<host>-<pid>-<hex>").
CREATE TABLE IF NOT EXISTS daemon_heartbeat (
  daemon_id      VARCHAR(128) NOT NULL,
  kind           ENUM('manager','consumer') NOT NULL,
  host           VARCHAR(255) NOT NULL,
  site           VARCHAR(64)  NOT NULL,
  process_group  VARCHAR(64)  NOT NULL,
  workers        INT UNSIGNED NOT NULL,
  heartbeat_s    INT UNSIGNED NOT NULL,   -- how often it promises to beat
  doing          VARCHAR(1024) NOT NULL DEFAULT '',  -- what it runs now, in words
  started_at     DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  last_heartbeat DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (daemon_id),
  KEY daemon_heartbeat_recent_idx (last_heartbeat)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
