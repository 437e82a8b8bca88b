// Package simulator is the meter-simulator service: a deterministic, seeded
// fleet of smart meters (substations → feeders → transformers → meters,
// uploaded by collectors) that publishes meter.reading.v1 to the rapids,
// and a pure API for tests that need to know exactly what it generated.
//
// # The model
//
// Every meter has fixed, seeded parameters: base load, scale, a habit shift
// of ±1 h and a noise amplitude; 4 % are small businesses. Its average
// demand over an interval is base + scale × profile × (1 + noise), where the
// shared profile has a morning and an evening peak on weekdays and a later,
// flatter shape at weekends. Voltage is the nominal voltage (230 V) with a
// per-transformer tap offset, noise, a sag proportional to the
// transformer's loading and the service-cable drop. Every value is a pure
// function of (seed, meter, absolute interval): any interval can be
// computed alone, in any order.
//
// # Exactness
//
// Energy is kept in whole watt-hours: the register is an integer number of
// Wh, published as energy_kwh_total with exactly 3 decimals; demand is the
// interval's energy divided by its length, in whole watts (demand_kw, 3
// decimals), so energy = demand × interval holds exactly; voltage has 1
// decimal. Convert a register back with math.Round(v*1000) and every sum and
// difference is exact. A read at read_at r covers (r−interval, r] and its
// energy counts in the hour that contains r−interval; Model.HourlyUsage
// returns those hourly totals per meter.
//
// # For tests
//
//	fleet, _ := simulator.NewFleet(simulator.FleetConfig{Meters: 200})
//	model, _ := simulator.NewModel(fleet, simulator.Scenario{
//		Start:  start,
//		Faults: []simulator.Fault{{Kind: simulator.FaultOutage, Target: "TX-00003", From: a, To: b}},
//	})
//	for up := range simulator.NewGenerator(model).Uploads(end) { ... }
//	want, _ := model.HourlyUsage(start, end)
//
// # Environment (service)
//
//	SIM_SEED                        1          seed of the fleet and every random draw
//	SIM_METERS                      10000      meters in the fleet
//	SIM_METERS_PER_TRANSFORMER      20
//	SIM_TRANSFORMERS_PER_FEEDER     50
//	SIM_FEEDERS_PER_SUBSTATION      8
//	SIM_TRANSFORMERS_PER_COLLECTOR  10         a collector uploads 200 meters at once
//	SIM_NOMINAL_VOLTAGE             230
//	SIM_INTERVAL                    15m        read interval; must divide 1h
//	SIM_SPEED                       900        grid seconds per wall second
//	SIM_RATE                        paced      "paced" (follow SIM_SPEED) or "max" (as fast as the broker takes)
//	SIM_START                       now        grid time of the first interval (RFC 3339), truncated to the interval
//	SIM_END                         (never)    stop at this grid time (RFC 3339 or +duration after the start)
//	SIM_MAX_UPLOAD_DELAY            5m         collectors upload at a random delay below this (grid time)
//	SIM_MISSING_RATE                0          fleet-wide probability of a dropped read
//	SIM_DUPLICATE_RATE              0          ... of a read sent twice
//	SIM_OUT_OF_ORDER_RATE           0          ... of a read held back to the next upload
//	SIM_MALFORMED_RATE              0          ... of an extra corrupt record (ends in rapids.dlq)
//	SIM_FAULTS                      (none)     scripted faults, e.g. "outage,target=TX-00003,from=+6h,for=2h;stuck,target=MTR-0000007,from=+1h"
//	SIM_BATCH                       2000       records per publish call
//	SIM_READING_TTL                 24h        use-by of each reading after publication
//	SIM_CHECKPOINT                  (none)     file where the position is kept; a restart resumes from it
//	SIM_COMMAND_SOURCE              /services/command-dispatcher  the only source whose meter.command.v1 the meters obey
//	SIM_COMMAND_DROP_RATE           0          probability that a command attempt is lost (no ack)
//	SIM_METER_MEMORY                48h        grid time a meter keeps a read the network lost, for re-reads
//
// plus the rivers SDK's variables (KAFKA_BROKERS, HTTP_ADDR, ...).
//
// # Publishing and restarts
//
// The timer publishes interval by interval through a rapids producer of its
// own, encoding readings as they are handed out, in batches of SIM_BATCH
// records on 4 lanes by meter id (2 batches queued per lane at most), so
// memory holds the generator's current interval and a few batches; each
// timer run works at most a second and ends with every batch answered
// (simulator_records_published_total counts acknowledged records), and the
// batches a failed run leaves behind go first in the next. Readings are not validated one by one: the
// simulator writes their JSON itself, and its tests hold them to the
// catalog's schema. With SIM_CHECKPOINT, the position (first interval not
// entirely acknowledged, grid clock, start) is saved after each run that
// completes an interval, and a restart on the same scenario regenerates up
// to it silently and continues the grid clock; faults injected at run time
// are not kept. With SIM_END, paced runs publish the uploads due until End
// + SIM_MAX_UPLOAD_DELAY, then the reads still held back.
//
// # Events
//
// Out: meter.reading.v1 on the rapids, key transformer_id, ce_source
// /services/meter-simulator, ce_id = events.ReadingID(meter_id, read_at) (a
// duplicate or a republished reading has the same id), ce_time = when the
// collector uploaded it on the grid clock. In: simulator.fault.v1 on the rivers (schema embedded here,
// see Schemas), which injects a fault from the current grid time.
//
// # Commands
//
// The fleet's meters answer meter.command.v1 from SIM_COMMAND_SOURCE (others
// are dead-lettered; commands for meters outside the fleet are another
// gateway's and ignored) with meter.command.ack.v1, unless the attempt is
// lost (SIM_COMMAND_DROP_RATE, deterministic per command id and attempt). A
// read_now with parameters.read_at sends the read the network lost
// (SIM_MISSING_RATE) again onto the rapids, with the values and the id
// (events.ReadingID) it would have had, and acks completed; a slot the meter
// does not hold (delivered, not taken during an outage, older than
// SIM_METER_MEMORY, not read yet) acks failed with that reason.
// display_message, connect and disconnect ack completed; set_interval and a
// read_now without read_at are rejected (not simulated).
package simulator
