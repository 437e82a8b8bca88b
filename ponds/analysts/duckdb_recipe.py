#!/usr/bin/env python3
"""Read the Watershed pond's meter readings with DuckDB.

The pond is Hive-partitioned Parquet:
    <root>/<topic>/ce_type=<ce_type>/date=YYYY-MM-DD/<topic>+<partition>+<first offset>.parquet
so DuckDB reads one event type with one glob and gets `date` as a column.

Usage:
    python3 duckdb_recipe.py /var/lib/watershed/pond           a local pond (file://)
    python3 duckdb_recipe.py s3://bucket/prefix                 an S3 or S3-compatible pond
    python3 duckdb_recipe.py ROOT --topic rapids --from 2025-03-01 --to 2025-03-02
    python3 duckdb_recipe.py ROOT --files objects.txt           exactly these files, one URL a line

--files is for S3-compatible stores that ignore ListObjects' encoding-type=url
(versitygw does): DuckDB's s3:// glob then reads the '+' of the pond's file
names as spaces. `watershed ponds ls --url` prints the list.

For s3:// it reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
(default us-east-1) and, for an S3-compatible store, S3_ENDPOINT
(host:port, or http://host:port which also turns TLS off).

It prints one JSON object: rows, distinct event ids, meters, the energy
used (energy_kwh: the growth of each meter's cumulative register
energy_kwh_total between its consecutive reads in the range, summed; the
register itself is not energy), how many times a register went down
(register_resets: a meter exchange or rollover, whose interval is left
out), the first and last read_at, and rows per date. consumption.sql is the
same arithmetic per meter and interval.
"""
import argparse
import importlib.util
import json
import os
import sys
from urllib.parse import urlparse

import duckdb


def connect(root):
    con = duckdb.connect()
    if root.startswith("s3://"):
        # httpfs comes from the duckdb-ext-httpfs package when installed
        # (no download at run time); otherwise DuckDB installs it.
        spec = importlib.util.find_spec("duckdb_ext")
        if spec and spec.submodule_search_locations:
            ext_dir = os.path.join(list(spec.submodule_search_locations)[0], "extensions")
            con.execute("SET extension_directory = ?", [ext_dir])
        else:
            con.execute("INSTALL httpfs")
        con.execute("LOAD httpfs")
        endpoint = os.environ.get("S3_ENDPOINT", "")
        use_ssl = True
        if endpoint.startswith(("http://", "https://")):
            use_ssl = endpoint.startswith("https://")
            endpoint = urlparse(endpoint).netloc
        params = {
            "KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", ""),
            "SECRET": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            "REGION": os.environ.get("AWS_REGION", "us-east-1"),
        }
        opts = ", ".join(f"{k} '{v}'" for k, v in params.items() if v)
        if endpoint:
            opts += f", ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL {str(use_ssl).lower()}"
        con.execute(f"CREATE SECRET pond (TYPE s3, {opts})")
    return con


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="the pond: a folder or s3://bucket/prefix")
    ap.add_argument("--topic", default="rapids")
    ap.add_argument("--from", dest="since", help="first date, YYYY-MM-DD")
    ap.add_argument("--to", dest="until", help="last date, YYYY-MM-DD")
    ap.add_argument("--files", help="a file listing the Parquet files to read, one URL a line, instead of a glob")
    args = ap.parse_args()

    con = connect(args.root)
    source = f"{args.root.rstrip('/')}/{args.topic}/ce_type=meter.reading.v1/*/*.parquet"
    if args.files:
        with open(args.files) as f:
            source = [line.strip() for line in f if "=meter.reading.v1/" in line]
    where, params = [], [source]
    if args.since:
        where.append("date >= CAST(? AS DATE)")
        params.append(args.since)
    if args.until:
        where.append("date <= CAST(? AS DATE)")
        params.append(args.until)
    filt = ("WHERE " + " AND ".join(where)) if where else ""
    readings = f"(SELECT * FROM read_parquet(?, hive_partitioning = true) {filt})"

    row = con.execute(
        f"""SELECT count(*), count(DISTINCT id), count(DISTINCT meter_id),
                   CAST(min(read_at) AS VARCHAR), CAST(max(read_at) AS VARCHAR)
            FROM {readings}""",
        params,
    ).fetchone()
    # A reading counts once per (meter, read_at); a register that goes down
    # is a reset, not negative energy.
    energy = con.execute(
        f"""WITH reads AS (
                 SELECT meter_id, read_at, max(energy_kwh_total) AS register_kwh
                 FROM {readings} GROUP BY meter_id, read_at),
               steps AS (
                 SELECT register_kwh - lag(register_kwh) OVER (PARTITION BY meter_id ORDER BY read_at) AS delta_kwh
                 FROM reads)
            SELECT coalesce(sum(delta_kwh) FILTER (WHERE delta_kwh >= 0), 0), count(*) FILTER (WHERE delta_kwh < 0)
            FROM steps""",
        params,
    ).fetchone()
    dates = con.execute(
        f"SELECT CAST(date AS VARCHAR), count(*) FROM {readings} GROUP BY date ORDER BY date", params
    ).fetchall()
    json.dump(
        {
            "rows": row[0],
            "distinct_ids": row[1],
            "meters": row[2],
            "energy_kwh": energy[0],
            "register_resets": energy[1],
            "first_read_at": row[3],
            "last_read_at": row[4],
            "dates": {d: n for d, n in dates},
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
