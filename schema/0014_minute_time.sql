-- Short-exposure mode (issue 17): a minute stack is a frame of the night for the steps after
-- it (alignment, selection, stacking, photometry, relative flux). It stands for its minute
-- under its first short frame's id (the frame_id of its image_product, frame_quality, raw_flux
-- and light_curve rows); its time and exposure are its short frames' (mean mid-exposure time,
-- summed exposure), written by coadd_minute in its success transaction. The steps that read a
-- frame's time (relative_flux, the systematics) take this row's where there is one.
-- Several consumers may share a minute: each coadd_minute part is a minute_part (its sum and
-- exposure map on the grid of the minute's first frame), and combine_minute adds them up.
ALTER TABLE image_product MODIFY COLUMN
  kind ENUM('master_bias','master_dark','master_flat','calibrated','stack','template','minute_stack','minute_part')
  NOT NULL;

CREATE TABLE IF NOT EXISTS minute_time (
  frame_id       BIGINT UNSIGNED NOT NULL,  -- the minute's first short frame
  observation_id INT UNSIGNED NOT NULL,
  process_id     BIGINT UNSIGNED NOT NULL,  -- the coadd_minute process
  short_frames   INT NOT NULL,
  last_frame_id  BIGINT UNSIGNED NOT NULL,
  jd_utc_mid     DOUBLE NULL,
  bjd_tdb_mid    DOUBLE NULL,
  exptime_s      DOUBLE NULL,               -- summed over the minute's frames
  PRIMARY KEY (frame_id),
  KEY minute_time_observation_idx (observation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The views that give a frame's time give a minute's where the frame stands for one.
CREATE OR REPLACE VIEW light_curve AS
  SELECT r.observation_id, r.source_id, r.frame_id, COALESCE(m.bjd_tdb_mid, f.bjd_tdb_mid) AS bjd_tdb,
         r.rel_flux, r.rel_flux_err, r.flags
  FROM relative_flux r JOIN raw_frame f ON f.frame_id = r.frame_id
  LEFT JOIN minute_time m ON m.frame_id = r.frame_id;

CREATE OR REPLACE VIEW rejected_frame AS
  SELECT q.observation_id, q.frame_id, f.path, COALESCE(m.bjd_tdb_mid, f.bjd_tdb_mid) AS bjd_tdb, q.rejected_reason,
         q.star_count, q.background_rms_adu, q.transparency, q.align_failure
  FROM frame_quality q JOIN raw_frame f ON f.frame_id = q.frame_id
  LEFT JOIN minute_time m ON m.frame_id = q.frame_id
  WHERE q.good = 0;

CREATE OR REPLACE VIEW field_light_curve AS
  SELECT sm.field_id, sm.field_source_id, r.observation_id, r.source_id, r.frame_id,
         COALESCE(m.bjd_tdb_mid, f.bjd_tdb_mid) AS bjd_tdb, r.rel_flux, r.rel_flux_err, r.flags
  FROM source_field_match sm
  JOIN relative_flux r ON r.observation_id = sm.observation_id AND r.source_id = sm.source_id
  JOIN raw_frame f ON f.frame_id = r.frame_id
  LEFT JOIN minute_time m ON m.frame_id = r.frame_id;
