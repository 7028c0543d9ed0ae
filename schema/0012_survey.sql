-- From light curves to planets (issue 21): the night's single-transit candidates vetted against
-- their own light curve and the field around them, the field's periodic candidates across
-- nights, and the alerts raised from both.

-- The vetting of each transit_candidate row (the transit_search step): the dip measured as a
-- box against the curve's own scatter, where the source sat, how much of the night it covers,
-- whether its neighbours and the references dipped too, and the verdict in words. vetted_rank
-- orders the night: passed candidates by ln Bayes factor, then the failed ones.
CREATE TABLE IF NOT EXISTS transit_vetting (
  observation_id      INT UNSIGNED NOT NULL,
  source_id           INT UNSIGNED NOT NULL,
  vetted_rank         INT NOT NULL,
  passed              TINYINT(1) NOT NULL,
  box_depth           DOUBLE NOT NULL,
  box_depth_err       DOUBLE NOT NULL,
  scatter             DOUBLE NOT NULL,            -- robust scatter per point, outside the event
  points_in           INT NOT NULL,
  points_out          INT NOT NULL,
  edge_distance_px    DOUBLE NULL,                -- NULL: the frame size is unknown
  coverage            DOUBLE NOT NULL,            -- clean points / good frames
  comparisons         INT NOT NULL,               -- neighbours and references measured
  comparisons_dipping INT NOT NULL,
  reasons             VARCHAR(2048) NOT NULL,
  PRIMARY KEY (observation_id, source_id),
  KEY transit_vetting_rank_idx (observation_id, vetted_rank)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The periodic candidates of a field (the field_search step over field_light_curve): per field
-- source, the strongest signal and those found after masking it (signal 1, 2, ...). Replaced by
-- a re-run of the field's search.
CREATE TABLE IF NOT EXISTS survey_candidate (
  field_id            INT UNSIGNED NOT NULL,
  field_source_id     INT UNSIGNED NOT NULL,
  signal_index        TINYINT UNSIGNED NOT NULL,  -- 1 = strongest, 2 = after masking 1, ...
  method              VARCHAR(8) NOT NULL,        -- 'gp' or 'bls'
  field_rank          INT NOT NULL,               -- over the field, 1 = first
  period_d            DOUBLE NOT NULL,
  epoch_bjd_tdb       DOUBLE NOT NULL,
  duration_d          DOUBLE NOT NULL,
  depth               DOUBLE NOT NULL,
  depth_err           DOUBLE NOT NULL,
  snr                 DOUBLE NOT NULL,
  sde                 DOUBLE NOT NULL,
  transits_with_data  INT NOT NULL,
  nights_covered      INT NOT NULL,
  odd_even_depth_diff DOUBLE NULL,
  odd_even_sigma      DOUBLE NULL,
  secondary_depth     DOUBLE NULL,                -- at phase 0.5
  secondary_sigma     DOUBLE NULL,
  single_ln_bf        DOUBLE NULL,                -- the best event's single-transit ln Bayes factor
  false_alarm         DOUBLE NULL,                -- fraction of inverted curves scoring at least this SNR
  flags               VARCHAR(1024) NOT NULL,     -- in words, '; '-separated; '' when clean
  search_process_id   BIGINT UNSIGNED NULL,
  created_at          DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (field_id, field_source_id, signal_index),
  KEY survey_candidate_rank_idx (field_id, field_rank)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Alerts: a periodic candidate or a night's single transit above its threshold, as published on
-- the tianyu.alerts exchange (VOEvent 2.0 XML and its JSON twin). role: observation or test.
CREATE TABLE IF NOT EXISTS alert (
  alert_id        BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  ivorn           VARCHAR(255) NOT NULL,
  kind            VARCHAR(32) NOT NULL,           -- 'periodic' or 'single_transit'
  role            VARCHAR(16) NOT NULL,
  field_id        INT UNSIGNED NULL,
  field_source_id INT UNSIGNED NULL,
  observation_id  INT UNSIGNED NULL,
  source_id       INT UNSIGNED NULL,
  ra_deg          DOUBLE NULL,
  dec_deg         DOUBLE NULL,
  position_err_arcsec DOUBLE NULL,
  event_bjd_tdb   DOUBLE NOT NULL,
  event_utc       VARCHAR(32) NOT NULL,           -- ISO 8601 UTC of the same instant at the geocentre
  period_d        DOUBLE NULL,                    -- periodic alerts
  duration_d      DOUBLE NOT NULL,
  depth           DOUBLE NOT NULL,
  depth_err       DOUBLE NOT NULL,
  snr             DOUBLE NULL,
  ln_bayes_factor DOUBLE NULL,
  voevent         MEDIUMTEXT NOT NULL,
  json            JSON NOT NULL CHECK (JSON_VALID(json)),
  -- The outbox: the row is the truth; the manager's relay publishes rows still NULL here and
  -- sets it once the broker confirmed both messages (a crash in between publishes again: a
  -- subscriber dedups on the ivorn).
  published_at    DATETIME(6) NULL,
  created_at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (alert_id),
  UNIQUE KEY alert_ivorn_uq (ivorn),
  KEY alert_unpublished_idx (published_at, alert_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
