-- Short-exposure mode (issue 17): the coadd_minute step's product, one per minute of short
-- frames (the calibrated sum in `path`, its exposure map in `weight_path`, `frame_id` the
-- minute's first frame). Nothing is written per short frame.
ALTER TABLE image_product MODIFY COLUMN
  kind ENUM('master_bias','master_dark','master_flat','calibrated','stack','template','minute_stack') NOT NULL;
