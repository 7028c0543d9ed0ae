-- Sources on the sky (issue 16): the astrometric solution of each observation's template, every
-- source's RA/Dec, and a catalogue per field (the DESIGN's "sky") whose source ids are stable
-- across nights, with each night's detections matched to it on the sphere.

-- The astrometric solution of an observation's template, on the observation's reference-frame
-- pixel grid (0-based pixels in the tables; the FITS cards keep FITS's 1-based CRPIX). One row
-- per observation, replaced by a re-run. solved = 0 keeps the reason: the night then completes
-- with pixel-only sources.
CREATE TABLE IF NOT EXISTS observation_wcs (
  observation_id     INT UNSIGNED NOT NULL,
  solved             TINYINT(1) NOT NULL,
  method             VARCHAR(32) NOT NULL,      -- 'solve-field', 'operator', 'none'
  reason             VARCHAR(1024) NULL,        -- why there is no solution
  wcs_header         MEDIUMTEXT NULL,           -- the TAN-SIP cards, 80-character FITS records
  center_ra_deg      DOUBLE NULL,
  center_dec_deg     DOUBLE NULL,
  pixel_scale_arcsec DOUBLE NULL,
  rotation_deg       DOUBLE NULL,               -- position angle of the image +y axis, E of N
  catalogue_stars    INT NULL,                  -- catalogue stars matched to check the solution
  rms_arcsec         DOUBLE NULL,               -- their rms separation
  solve_seconds      DOUBLE NULL,
  created_at         DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (observation_id),
  CONSTRAINT observation_wcs_observation_fk FOREIGN KEY (observation_id)
    REFERENCES observation (observation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE source
  ADD COLUMN IF NOT EXISTS ra_deg  DOUBLE NULL AFTER y_px,
  ADD COLUMN IF NOT EXISTS dec_deg DOUBLE NULL AFTER ra_deg;

-- A survey field: the observations of one target share it unless ingest names another.
CREATE TABLE IF NOT EXISTS field (
  field_id   INT UNSIGNED NOT NULL AUTO_INCREMENT,
  name       VARCHAR(128) NOT NULL,
  ra_deg     DOUBLE NULL,
  dec_deg    DOUBLE NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (field_id),
  UNIQUE KEY field_name_uq (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE observation ADD COLUMN IF NOT EXISTS field_id INT UNSIGNED NULL AFTER target_id;

-- The field's catalogue: one row per star ever matched, its mean position over the nights it
-- was seen (unit-vector mean), and how many nights saw it. Ids are never reused.
CREATE TABLE IF NOT EXISTS field_source (
  field_id           INT UNSIGNED NOT NULL,
  field_source_id    INT UNSIGNED NOT NULL,
  ra_deg             DOUBLE NOT NULL,
  dec_deg            DOUBLE NOT NULL,
  mean_instrumental_mag DOUBLE NULL,
  nights_seen        INT NOT NULL,
  first_observation_id INT UNSIGNED NOT NULL,
  last_observation_id  INT UNSIGNED NOT NULL,
  PRIMARY KEY (field_id, field_source_id),
  KEY field_source_position_idx (field_id, dec_deg, ra_deg)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- How each of a night's sources joined the field catalogue: 'matched' (nearest within the
-- radius and the second nearest at least 1.5x farther), 'new' (nothing within the radius) or
-- 'blend' (ambiguous: matched to the nearest, the rivals kept in blend_with).
CREATE TABLE IF NOT EXISTS source_field_match (
  observation_id    INT UNSIGNED NOT NULL,
  source_id         INT UNSIGNED NOT NULL,
  field_id          INT UNSIGNED NOT NULL,
  field_source_id   INT UNSIGNED NOT NULL,
  match_kind        VARCHAR(16) NOT NULL,
  separation_arcsec DOUBLE NULL,
  blend_with        JSON NOT NULL DEFAULT '[]' CHECK (JSON_VALID(blend_with)),
  PRIMARY KEY (observation_id, source_id),
  KEY source_field_match_field_idx (field_id, field_source_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The three nearest stars of each external catalogue ('tycho2' from the installed astrometry
-- index files; an operator's extract, e.g. 'gaia-dr3') to each field source.
CREATE TABLE IF NOT EXISTS field_source_catalogue_star (
  field_id          INT UNSIGNED NOT NULL,
  field_source_id   INT UNSIGNED NOT NULL,
  catalogue         VARCHAR(32) NOT NULL,
  neighbour_rank    TINYINT UNSIGNED NOT NULL,   -- 1 = nearest
  catalogue_star_id VARCHAR(64) NOT NULL,
  ra_deg            DOUBLE NOT NULL,
  dec_deg           DOUBLE NOT NULL,
  mag               DOUBLE NULL,
  distance_arcsec   DOUBLE NOT NULL,
  PRIMARY KEY (field_id, field_source_id, catalogue, neighbour_rank)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- "The light curve of field source S across every night":
--   SELECT bjd_tdb, rel_flux, rel_flux_err, flags, observation_id FROM field_light_curve
--   WHERE field_id = F AND field_source_id = S ORDER BY bjd_tdb;
CREATE OR REPLACE VIEW field_light_curve AS
  SELECT m.field_id, m.field_source_id, r.observation_id, r.source_id, r.frame_id,
         f.bjd_tdb_mid AS bjd_tdb, r.rel_flux, r.rel_flux_err, r.flags
  FROM source_field_match m
  JOIN relative_flux r ON r.observation_id = m.observation_id AND r.source_id = m.source_id
  JOIN raw_frame f ON f.frame_id = r.frame_id;
