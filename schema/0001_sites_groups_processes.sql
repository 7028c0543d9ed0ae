-- Sites, groups, processes and their dependencies (DESIGN.md §1-2).
-- Every statement is idempotent (IF NOT EXISTS) because MariaDB commits DDL implicitly:
-- a migration interrupted half-way is simply applied again.

-- A site: consumers that share a host address and a file-system root. Image paths are stored
-- relative to root_path so files can move between sites.
CREATE TABLE IF NOT EXISTS site (
  site_id      INT UNSIGNED NOT NULL AUTO_INCREMENT,
  name         VARCHAR(64)  NOT NULL,
  root_path    VARCHAR(1024) NOT NULL,
  host         VARCHAR(255) NULL,
  description  VARCHAR(1024) NULL,
  created_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (site_id),
  UNIQUE KEY site_name_uq (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A group: consumers of one site that share hardware (big RAM, GPU, camera). Each
-- (site, group) pair has its own broker queue.
CREATE TABLE IF NOT EXISTS process_group (
  group_id     INT UNSIGNED NOT NULL AUTO_INCREMENT,
  site_id      INT UNSIGNED NOT NULL,
  name         VARCHAR(64)  NOT NULL,
  description  VARCHAR(1024) NULL,
  properties   JSON NOT NULL DEFAULT '{}' CHECK (JSON_VALID(properties)),
  created_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (group_id),
  UNIQUE KEY process_group_site_name_uq (site_id, name),
  CONSTRAINT process_group_site_fk FOREIGN KEY (site_id) REFERENCES site (site_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A process: any unit of work. The row is the single source of truth for its state; the
-- broker only rings the bell. State changes are guarded UPDATEs on (state, attempt), and
-- published_at stays NULL until the broker confirmed the message (the row is its own outbox).
CREATE TABLE IF NOT EXISTS process (
  process_id    BIGINT UNSIGNED NOT NULL,
  command       VARCHAR(64)  NOT NULL,
  params        JSON NOT NULL DEFAULT '{}' CHECK (JSON_VALID(params)),
  group_id      INT UNSIGNED NOT NULL,
  state         ENUM('waiting','ready','queued','running','retry_wait',
                     'success','failed','cancelled') NOT NULL DEFAULT 'waiting',
  pending_deps  INT UNSIGNED NOT NULL DEFAULT 0,
  attempt       INT UNSIGNED NOT NULL DEFAULT 0,
  max_attempts  INT UNSIGNED NOT NULL DEFAULT 3,
  priority      INT NOT NULL DEFAULT 0,
  not_before    DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  lease_owner   VARCHAR(128) NULL,
  lease_until   DATETIME(6)  NULL,
  created_at    DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  queued_at     DATETIME(6)  NULL,
  published_at  DATETIME(6)  NULL,
  started_at    DATETIME(6)  NULL,
  finished_at   DATETIME(6)  NULL,
  error         TEXT NULL,
  PRIMARY KEY (process_id),
  -- The manager's claim query walks this index: state first, then readiness time.
  KEY process_claim_idx (state, not_before, priority, process_id),
  -- The lease sweeper and the outbox relay.
  KEY process_lease_idx (state, lease_until),
  KEY process_outbox_idx (state, published_at),
  KEY process_group_idx (group_id, state),
  CONSTRAINT process_group_fk FOREIGN KEY (group_id) REFERENCES process_group (group_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- "process_id depends on depends_on_id": the child starts only after the parent succeeded.
CREATE TABLE IF NOT EXISTS process_dependency (
  process_id     BIGINT UNSIGNED NOT NULL,
  depends_on_id  BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (process_id, depends_on_id),
  KEY process_dependency_parent_idx (depends_on_id),
  CONSTRAINT process_dependency_child_fk FOREIGN KEY (process_id)
    REFERENCES process (process_id) ON DELETE CASCADE,
  CONSTRAINT process_dependency_parent_fk FOREIGN KEY (depends_on_id)
    REFERENCES process (process_id),
  CONSTRAINT process_dependency_no_self CHECK (process_id <> depends_on_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
