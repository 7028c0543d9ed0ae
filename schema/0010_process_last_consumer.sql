-- The consumer that ran a process's last attempt (issue 18): the lease owner is cleared when an
-- attempt ends, so without this an operator could not see which consumer failed a step.
ALTER TABLE process ADD COLUMN IF NOT EXISTS last_consumer VARCHAR(128) NULL AFTER lease_until;
