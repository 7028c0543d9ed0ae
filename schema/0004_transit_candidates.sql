-- The transit search of each light curve of an observation (the transit_search step): the
-- single-transit log Bayes factor (a U-shaped dip plus a quadratic trend against the trend
-- alone) and the best dip's epoch, duration and depth. Rows replaced by a re-run.
CREATE TABLE IF NOT EXISTS transit_candidate (
  observation_id  INT UNSIGNED NOT NULL,
  source_id       INT UNSIGNED NOT NULL,
  ln_bayes_factor DOUBLE NOT NULL,
  t0_bjd_tdb      DOUBLE NOT NULL,
  duration_d      DOUBLE NOT NULL,
  depth           DOUBLE NOT NULL,
  points          INT NOT NULL,
  PRIMARY KEY (observation_id, source_id),
  KEY transit_candidate_rank_idx (observation_id, ln_bayes_factor)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
