-- Observations and everything the pipeline makes of them (DESIGN.md §3): raw frames with their
-- times, image products (masters, calibrated frames, stacks), frame quality, template sources,
-- raw aperture fluxes, relative fluxes and the reference decisions. Every product row carries
-- the process that wrote it (or is keyed so that a re-run of that process replaces it): a
-- retried step leaves the same rows, never doubled.

-- A target: what the telescope points at (a sky). Its RA/Dec give the barycentric times.
CREATE TABLE IF NOT EXISTS target (
  target_id    INT UNSIGNED NOT NULL AUTO_INCREMENT,
  name         VARCHAR(128) NOT NULL,
  ra_deg       DOUBLE NULL,
  dec_deg      DOUBLE NULL,
  created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (target_id),
  UNIQUE KEY target_name_uq (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- An observation: the frames of one target taken at one site in one run (a night).
CREATE TABLE IF NOT EXISTS observation (
  observation_id INT UNSIGNED NOT NULL AUTO_INCREMENT,
  site_id        INT UNSIGNED NOT NULL,
  target_id      INT UNSIGNED NOT NULL,
  name           VARCHAR(128) NOT NULL,
  created_at     DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (observation_id),
  UNIQUE KEY observation_site_name_uq (site_id, name),
  CONSTRAINT observation_site_fk FOREIGN KEY (site_id) REFERENCES site (site_id),
  CONSTRAINT observation_target_fk FOREIGN KEY (target_id) REFERENCES target (target_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A raw frame as the camera wrote it. `path` is relative to the site root ('/'-separated);
-- times are mid-exposure. Science frames need a time; calibration frames may lack one.
CREATE TABLE IF NOT EXISTS raw_frame (
  frame_id       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  observation_id INT UNSIGNED NOT NULL,
  site_id        INT UNSIGNED NOT NULL,
  path           VARCHAR(760) NOT NULL,
  kind           ENUM('science','bias','dark','flat') NOT NULL,
  width          INT NOT NULL,
  height         INT NOT NULL,
  exptime_s      DOUBLE NULL,
  filter         VARCHAR(32) NULL,
  start_utc      VARCHAR(32) NULL,
  time_source    VARCHAR(32) NULL,
  jd_utc_mid     DOUBLE NULL,
  bjd_tdb_mid    DOUBLE NULL,
  header         JSON NOT NULL DEFAULT '{}' CHECK (JSON_VALID(header)),
  created_at     DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (frame_id),
  UNIQUE KEY raw_frame_path_uq (site_id, path),
  KEY raw_frame_observation_idx (observation_id, kind, jd_utc_mid),
  CONSTRAINT raw_frame_observation_fk FOREIGN KEY (observation_id) REFERENCES observation (observation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- An edge either needs its parent's success (a failed parent cancels the child: 'cancel') or
-- only its end ('proceed': a step over a whole observation runs without a frame whose own steps
-- failed, instead of being cancelled by it).
ALTER TABLE process_dependency ADD COLUMN IF NOT EXISTS
  on_failure ENUM('cancel','proceed') NOT NULL DEFAULT 'cancel';

-- Processes know their observation, so "the processes of observation O" is one indexed query.
ALTER TABLE process ADD COLUMN IF NOT EXISTS observation_id INT UNSIGNED NULL AFTER group_id;
ALTER TABLE process ADD INDEX IF NOT EXISTS process_observation_idx (observation_id, state);

-- One image a process made (a master, a calibrated frame with its mask and catalogue, a stack
-- node with its weight map). Keyed by the process: a re-run replaces its own row.
CREATE TABLE IF NOT EXISTS image_product (
  process_id         BIGINT UNSIGNED NOT NULL,
  observation_id     INT UNSIGNED NOT NULL,
  frame_id           BIGINT UNSIGNED NULL,
  kind               ENUM('master_bias','master_dark','master_flat','calibrated','stack','template') NOT NULL,
  path               VARCHAR(760) NOT NULL,
  mask_path          VARCHAR(760) NULL,
  weight_path        VARCHAR(760) NULL,
  catalog_path       VARCHAR(760) NULL,
  background_adu     DOUBLE NULL,
  background_rms_adu DOUBLE NULL,
  masked_pixels      BIGINT NULL,
  frames             INT NULL,
  created_at         DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (process_id),
  KEY image_product_observation_idx (observation_id, kind),
  KEY image_product_frame_idx (frame_id, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A science frame's quality and its alignment onto the reference (first) frame: reference
-- positions (x, y) land at (dx + axx x + axy y, dy + ayx x + ayy y) in this frame. `good` and
-- `rejected_reason` are NULL until the selection step has judged the whole observation.
CREATE TABLE IF NOT EXISTS frame_quality (
  frame_id           BIGINT UNSIGNED NOT NULL,
  observation_id     INT UNSIGNED NOT NULL,
  process_id         BIGINT UNSIGNED NOT NULL,
  star_count         INT NOT NULL,
  background_rms_adu DOUBLE NOT NULL,
  aligned            TINYINT(1) NOT NULL,
  align_failure      VARCHAR(255) NULL,
  dx DOUBLE NOT NULL, dy DOUBLE NOT NULL,
  axx DOUBLE NOT NULL, axy DOUBLE NOT NULL, ayx DOUBLE NOT NULL, ayy DOUBLE NOT NULL,
  align_rms_px       DOUBLE NULL,
  matched_stars      INT NOT NULL,
  transparency       DOUBLE NULL,
  trail_length_px    DOUBLE NOT NULL,
  good               TINYINT(1) NULL,
  rejected_reason    VARCHAR(255) NULL,
  PRIMARY KEY (frame_id),
  KEY frame_quality_observation_idx (observation_id, good)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The aperture radii of an observation's photometry (index 0, 1, ... in raw_flux).
CREATE TABLE IF NOT EXISTS aperture (
  observation_id INT UNSIGNED NOT NULL,
  aperture_index TINYINT UNSIGNED NOT NULL,
  radius_px      DOUBLE NOT NULL,
  PRIMARY KEY (observation_id, aperture_index)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Sources detected on the observation's template, on the FIRST frame's 0-based pixel grid.
CREATE TABLE IF NOT EXISTS source (
  observation_id INT UNSIGNED NOT NULL,
  source_id      INT UNSIGNED NOT NULL,
  x_px           DOUBLE NOT NULL,
  y_px           DOUBLE NOT NULL,
  template_flux  DOUBLE NOT NULL,
  fwhm_px        DOUBLE NOT NULL,
  a_px DOUBLE NOT NULL, b_px DOUBLE NOT NULL, theta_rad DOUBLE NOT NULL,
  sep_flag       INT NOT NULL,
  isolated       TINYINT(1) NOT NULL,
  PRIMARY KEY (observation_id, source_id),
  KEY source_position_idx (observation_id, x_px, y_px)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Aperture photometry of every source in every good frame, at every radius. Flags: 1 edge,
-- 2 masked pixels (repaired), 4 saturated, 8 no local sky.
CREATE TABLE IF NOT EXISTS raw_flux (
  frame_id       BIGINT UNSIGNED NOT NULL,
  source_id      INT UNSIGNED NOT NULL,
  aperture_index TINYINT UNSIGNED NOT NULL,
  observation_id INT UNSIGNED NOT NULL,
  flux           DOUBLE NULL,
  flux_err       DOUBLE NULL,
  flags          TINYINT UNSIGNED NOT NULL,
  PRIMARY KEY (frame_id, source_id, aperture_index),
  KEY raw_flux_observation_idx (observation_id, source_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The light curves: each source's flux over its reference sum, at its best aperture.
CREATE TABLE IF NOT EXISTS relative_flux (
  observation_id INT UNSIGNED NOT NULL,
  source_id      INT UNSIGNED NOT NULL,
  frame_id       BIGINT UNSIGNED NOT NULL,
  rel_flux       DOUBLE NULL,
  rel_flux_err   DOUBLE NULL,
  flags          TINYINT UNSIGNED NOT NULL,
  PRIMARY KEY (observation_id, source_id, frame_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every source's relative-flux decisions and precision.
CREATE TABLE IF NOT EXISTS source_photometry (
  observation_id   INT UNSIGNED NOT NULL,
  source_id        INT UNSIGNED NOT NULL,
  aperture_index   TINYINT UNSIGNED NULL,
  group_id         INT NULL,
  is_reference     TINYINT(1) NOT NULL,
  decision         VARCHAR(512) NOT NULL,
  median_flux      DOUBLE NULL,
  instrumental_mag DOUBLE NULL,
  rms              DOUBLE NULL,
  cdpp_ppm         DOUBLE NULL,
  points           INT NOT NULL,
  PRIMARY KEY (observation_id, source_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The reference groups (position bin x flux range) and what the pruning dropped, and why.
CREATE TABLE IF NOT EXISTS reference_group (
  observation_id INT UNSIGNED NOT NULL,
  group_id       INT NOT NULL,
  position_bin   INT NOT NULL,
  min_flux       DOUBLE NOT NULL,
  max_flux       DOUBLE NOT NULL,
  snr            DOUBLE NOT NULL,
  references_kept INT NOT NULL,
  dropped        JSON NOT NULL DEFAULT '[]' CHECK (JSON_VALID(dropped)),
  PRIMARY KEY (observation_id, group_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- "The light curve of source S in observation O":
--   SELECT bjd_tdb, rel_flux, rel_flux_err, flags FROM light_curve
--   WHERE observation_id = O AND source_id = S ORDER BY bjd_tdb;
CREATE OR REPLACE VIEW light_curve AS
  SELECT r.observation_id, r.source_id, r.frame_id, f.bjd_tdb_mid AS bjd_tdb,
         r.rel_flux, r.rel_flux_err, r.flags
  FROM relative_flux r JOIN raw_frame f ON f.frame_id = r.frame_id;

-- "Frames rejected and why".
CREATE OR REPLACE VIEW rejected_frame AS
  SELECT q.observation_id, q.frame_id, f.path, f.bjd_tdb_mid AS bjd_tdb, q.rejected_reason,
         q.star_count, q.background_rms_adu, q.transparency, q.align_failure
  FROM frame_quality q JOIN raw_frame f ON f.frame_id = q.frame_id
  WHERE q.good = 0;

-- "The processes of observation O and their state".
CREATE OR REPLACE VIEW observation_process AS
  SELECT p.observation_id, p.process_id, p.command, s.name AS site, g.name AS process_group,
         p.state, p.attempt, p.error, p.started_at, p.finished_at
  FROM process p JOIN process_group g ON g.group_id = p.group_id JOIN site s ON s.site_id = g.site_id
  WHERE p.observation_id IS NOT NULL;
