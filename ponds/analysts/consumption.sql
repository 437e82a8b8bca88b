-- consumption: energy per meter per interval, from the growth of each
-- meter's cumulative register (energy_kwh_total). The register is not
-- energy: summing it, or demand_kw, gives nothing meaningful.
--   * a reading counts once per (meter, read_at): duplicates and replays
--     carry the same reading;
--   * a row covers the interval (read_at - interval_s, read_at]; the first
--     read of a meter only starts its register, so it has no row;
--   * after missed reads, the register's growth over the gap is spread evenly
--     over the missing intervals: those rows have estimated = true;
--   * a register that goes down (meter exchange, reset, rollover) gives a row
--     with reset = true and energy_kwh NULL: what was used between the two
--     reads is unknown; the next intervals count from the new register.
-- The pond is the one `watershed dev` writes; change the path for another.
CREATE OR REPLACE VIEW consumption AS
WITH reads AS (
  SELECT meter_id, read_at, max(interval_s) AS interval_s, max(energy_kwh_total) AS register_kwh
  FROM read_parquet('.watershed/pond/rapids/ce_type=meter.reading.v1/*/*.parquet')
  GROUP BY meter_id, read_at),
steps AS (
  SELECT meter_id, read_at, interval_s,
         register_kwh - lag(register_kwh) OVER w AS delta_kwh,
         greatest(1, CAST(round(epoch(read_at - lag(read_at) OVER w) / interval_s) AS INTEGER)) AS intervals
  FROM reads
  WINDOW w AS (PARTITION BY meter_id ORDER BY read_at)),
spread AS (
  SELECT *, unnest(range(intervals)) AS k FROM steps WHERE delta_kwh IS NOT NULL)
SELECT meter_id,
       read_at - to_seconds(k * interval_s) AS read_at,
       interval_s,
       CASE WHEN delta_kwh >= 0 THEN delta_kwh / intervals END AS energy_kwh,
       intervals > 1 AS estimated,
       delta_kwh < 0 AS reset
FROM spread;
