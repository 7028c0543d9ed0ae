-- A transient resource failure (a full disk, an I/O error) retries a process without spending
-- its attempt budget (attempt_floor rises with the attempt). resource_waits counts those
-- failures in a row, so the back-off grows to its cap while the resource stays short instead
-- of re-running the step every base interval; a success resets it.
ALTER TABLE process ADD COLUMN IF NOT EXISTS resource_waits INT UNSIGNED NOT NULL DEFAULT 0 AFTER attempt_floor;
