-- The frame header read once (issue 14): ingest parses each raw frame's calibration cards into
-- typed columns, so no step parses a header again. Policy (publisher/ingest.h): a card that is
-- missing leaves its column NULL; a card present but malformed refuses the frame at ingest,
-- unless the observation's override supplies that value (then the column stays NULL and the
-- override is what frame_calibration shows). Steps read frame_calibration, never the header.

-- Per frame, as the camera wrote it (NULL = the card was absent, or malformed and overridden).
ALTER TABLE raw_frame
  ADD COLUMN IF NOT EXISTS gain_e_per_adu   DOUBLE NULL AFTER filter,   -- GAIN or EGAIN
  ADD COLUMN IF NOT EXISTS read_noise_e     DOUBLE NULL AFTER gain_e_per_adu,  -- RDNOISE or READNOIS
  ADD COLUMN IF NOT EXISTS saturation_adu   DOUBLE NULL AFTER read_noise_e,    -- SATURATE
  ADD COLUMN IF NOT EXISTS pointing_ra_deg  DOUBLE NULL AFTER saturation_adu,  -- RA, else OBJCTRA
  ADD COLUMN IF NOT EXISTS pointing_dec_deg DOUBLE NULL AFTER pointing_ra_deg, -- DEC, else OBJCTDEC
  ADD COLUMN IF NOT EXISTS airmass          DOUBLE NULL AFTER pointing_dec_deg; -- AIRMASS

-- Per observation, what the operator says instead of the headers (ingest --calibration, or
-- pipeline --calibration). NULL = no override: each frame's own value is used.
ALTER TABLE observation
  ADD COLUMN IF NOT EXISTS exptime_s      DOUBLE NULL AFTER name,
  ADD COLUMN IF NOT EXISTS gain_e_per_adu DOUBLE NULL AFTER exptime_s,
  ADD COLUMN IF NOT EXISTS read_noise_e   DOUBLE NULL AFTER gain_e_per_adu,
  ADD COLUMN IF NOT EXISTS saturation_adu DOUBLE NULL AFTER read_noise_e,
  ADD COLUMN IF NOT EXISTS filter         VARCHAR(32) NULL AFTER saturation_adu;

-- What a step uses for frame F: the observation's override, else the frame's card. A value
-- that is NULL here was in neither: the step applies its documented default. Each *_from
-- column says where the value came from: 'observation' (the override), 'header' (the card)
-- or 'none'.
CREATE OR REPLACE VIEW frame_calibration AS
  SELECT f.frame_id, f.observation_id, f.kind,
         COALESCE(o.exptime_s, f.exptime_s) AS exptime_s,
         CASE WHEN o.exptime_s IS NOT NULL THEN 'observation'
              WHEN f.exptime_s IS NOT NULL THEN 'header' ELSE 'none' END AS exptime_from,
         COALESCE(o.gain_e_per_adu, f.gain_e_per_adu) AS gain_e_per_adu,
         CASE WHEN o.gain_e_per_adu IS NOT NULL THEN 'observation'
              WHEN f.gain_e_per_adu IS NOT NULL THEN 'header' ELSE 'none' END AS gain_from,
         COALESCE(o.read_noise_e, f.read_noise_e) AS read_noise_e,
         CASE WHEN o.read_noise_e IS NOT NULL THEN 'observation'
              WHEN f.read_noise_e IS NOT NULL THEN 'header' ELSE 'none' END AS read_noise_from,
         COALESCE(o.saturation_adu, f.saturation_adu) AS saturation_adu,
         CASE WHEN o.saturation_adu IS NOT NULL THEN 'observation'
              WHEN f.saturation_adu IS NOT NULL THEN 'header' ELSE 'none' END AS saturation_from,
         COALESCE(o.filter, f.filter) AS filter,
         CASE WHEN o.filter IS NOT NULL THEN 'observation'
              WHEN f.filter IS NOT NULL THEN 'header' ELSE 'none' END AS filter_from,
         f.jd_utc_mid, f.bjd_tdb_mid, f.pointing_ra_deg, f.pointing_dec_deg, f.airmass
  FROM raw_frame f JOIN observation o ON o.observation_id = f.observation_id;
