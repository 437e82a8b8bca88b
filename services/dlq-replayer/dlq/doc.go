// Package dlq is the dlq-replayer service. Reading, summarizing and
// replaying dead letters is package rivers/deadletter (the names here are
// aliases of it, for the service's existing callers):
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
//
// [Register] makes the dlq-replayer service: GET /v1/dlq serves the counts
// ([Summarize]) of one page of the dead-letter topics. Listing, showing and
// replaying is `watershed dlq`.
//
// Environment variables (defaults):
//
//	DLQ_TOPICS      <rivers>.dlq,<rapids>.dlq   dead-letter topics summarized
//	DLQ_READ_IDLE   2s                          wait for a record the end offsets promised before taking the partition as read
package dlq
