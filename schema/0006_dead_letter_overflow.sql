-- Dead letters the capped dead-letter queue dropped (too many, or older than its TTL): the
-- broker dead-letters them to an overflow queue, and the manager counts them here per work
-- queue they came from (their routing key), so a full dead-letter queue is never silent.
CREATE TABLE IF NOT EXISTS dead_letter_overflow (
  source_queue VARCHAR(255) NOT NULL,
  dropped      BIGINT UNSIGNED NOT NULL DEFAULT 0,
  last_at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (source_queue)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
