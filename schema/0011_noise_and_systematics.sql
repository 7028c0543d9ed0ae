-- Real nights at their noise floor (issue 19): the gain an observation's errors rest on and how
-- it was obtained, whether its errors match its scatter, and the per-frame systematics a
-- night's baseline is fitted with. Idempotent: MariaDB commits DDL implicitly.

-- Per observation, written by its relative_flux step (a re-run replaces the row).
-- gain_method: 'observation' (the operator's override), 'header' (GAIN/EGAIN), or, when neither
-- had it, 'flat_photon_transfer' (pairs of flats of one level), 'constant_star_scatter' (the
-- scatter of constant stars against their flux) or 'assumed' (no estimate possible: the
-- photometry's default). gain_used_by_photometry is the gain raw_flux.flux_err was computed
-- with; the light curves' errors were recomputed with gain_e_per_adu.
CREATE TABLE IF NOT EXISTS observation_noise (
  observation_id              INT UNSIGNED NOT NULL,
  process_id                  BIGINT UNSIGNED NOT NULL,
  gain_e_per_adu              DOUBLE NULL,
  gain_err                    DOUBLE NULL,
  gain_method                 VARCHAR(32) NOT NULL,
  gain_detail                 VARCHAR(1024) NULL,
  gain_used_by_photometry     DOUBLE NULL,
  read_noise_e                DOUBLE NULL,
  -- The median reduced chi2 of the references' light curves against a constant (5-sigma
  -- clipped): about 1 when the errors match the scatter.
  constant_stars              INT NOT NULL DEFAULT 0,
  constant_stars_reduced_chi2 DOUBLE NULL,
  created_at                  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (observation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Per good science frame, the systematics a baseline may be fitted with. airmass_from: 'header'
-- (AIRMASS), 'site' (computed from the site's coordinates, the time and the pointing),
-- 'altitude' (the header's telescope altitude card), NULL when none was possible. fwhm_px is the
-- references' median seeing from their curve of growth (a Gaussian's FWHM with the same
-- fraction of the flux inside the smallest aperture as inside the largest); transparency the
-- references' median flux in the frame over their median over the night; dx/dy the frame's
-- shift against the reference frame (frame_quality's alignment).
CREATE TABLE IF NOT EXISTS frame_systematics (
  frame_id       BIGINT UNSIGNED NOT NULL,
  observation_id INT UNSIGNED NOT NULL,
  airmass        DOUBLE NULL,
  airmass_from   VARCHAR(16) NULL,
  fwhm_px        DOUBLE NULL,
  background_adu DOUBLE NULL,
  transparency   DOUBLE NULL,
  dx_px          DOUBLE NULL,
  dy_px          DOUBLE NULL,
  PRIMARY KEY (frame_id),
  KEY frame_systematics_observation_idx (observation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Where a site is (for the airmass when the frames carry no AIRMASS card): geodetic latitude
-- (north positive), longitude (east positive), height above sea level. NULL: unknown.
ALTER TABLE site
  ADD COLUMN IF NOT EXISTS latitude_deg  DOUBLE NULL AFTER description,
  ADD COLUMN IF NOT EXISTS longitude_deg DOUBLE NULL AFTER latitude_deg,
  ADD COLUMN IF NOT EXISTS altitude_m    DOUBLE NULL AFTER longitude_deg;
