// Package deadletter reads, summarizes and replays dead letters: records
// the rivers SDK moved to "<topic>.dlq" with origin headers (origin topic,
// partition, offset, error class, error, river, service, time). It is the
// library behind the dlq-replayer service, `watershed dlq` and the console.
//
// A replay republishes the original record — key, value and event headers,
// so the same ce_id and de-duplicating consumers drop it if they had
// processed it — to its origin topic, without the dead-letter headers and
// with watershed_replay_count incremented, and writes a replay marker next
// to the letter (HeaderReplayMarker). An event's replay count is the
// highest among its letters and markers, so an event replayed the limit
// (default 3) times, over all runs, is not replayed again: a replay cannot
// loop. One event dead-lettered by several rivers is replayed once per run.
// Reads stop at the end offsets taken when they start ([Read], [ReadPage]).
package deadletter
