-- raw_flux is read by frame, its primary key's prefix: the relative_flux step joins the
-- observation's raw_frame rows to it (issue 17). The secondary index (observation_id,
-- source_id) took a third of every photometry commit (8,634 rows of a 2048^2 frame: 32 -> 21
-- ms, the index's keys land on 2,878 pages a frame), and a read through it looked each row up
-- again in the clustered index. A query by observation joins raw_frame, as the step does:
--   SELECT rf.* FROM raw_frame f JOIN raw_flux rf ON rf.frame_id = f.frame_id
--   WHERE f.observation_id = 1;
ALTER TABLE raw_flux DROP INDEX IF EXISTS raw_flux_observation_idx;
