-- Process management (issue: publisher, manager, consumers with exactly-once effects).

-- Operator retries reset the attempt budget without reusing attempt numbers (attempt is the
-- fencing token of every final write): attempts left = max_attempts - (attempt - attempt_floor).
ALTER TABLE process ADD COLUMN IF NOT EXISTS attempt_floor INT UNSIGNED NOT NULL DEFAULT 0
  AFTER max_attempts;

-- Every dispatch a manager makes; UNIQUE (process_id, attempt) makes a double dispatch of the
-- same attempt impossible, and the table shows who dispatched what when.
CREATE TABLE IF NOT EXISTS dispatch_log (
  process_id    BIGINT UNSIGNED NOT NULL,
  attempt       INT UNSIGNED NOT NULL,
  manager_id    VARCHAR(128) NOT NULL,
  dispatched_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (process_id, attempt)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The effect of the diagnostic `touch` step, written in its success transaction. `writes`
-- counts commits: exactly-once effects means one row per process with writes = 1.
CREATE TABLE IF NOT EXISTS touch_effect (
  process_id  BIGINT UNSIGNED NOT NULL,
  attempt     INT UNSIGNED NOT NULL,
  consumer_id VARCHAR(128) NOT NULL,
  path        VARCHAR(1024) NOT NULL,
  writes      INT UNSIGNED NOT NULL DEFAULT 1,
  created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (process_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
