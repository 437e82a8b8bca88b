// Package dlq reads, summarizes and replays dead letters: records the
// rivers SDK moved to "<topic>.dlq" with origin headers (origin topic,
// partition, offset, error class, error, river, service, time).
//
// A replay republishes the original record — key, value and event headers,
// so the same ce_id and de-duplicating consumers drop it if they had
// processed it — to its origin topic, without the dead-letter headers and
// with watershed_replay_count incremented. A replayed event that fails
// again comes back to the dead-letter topic with that count, and letters
// replayed the limit (default 3) times are not replayed again: a replay
// cannot loop. One event dead-lettered by several rivers is replayed once
// per run.
//
// [Register] makes the dlq-replayer service: GET /v1/dlq serves the counts
// ([Summarize]) of the dead-letter topics. Listing, showing and replaying
// is `watershed dlq`.
//
// Environment variables (defaults):
//
//	DLQ_TOPICS      <rivers>.dlq,<rapids>.dlq   dead-letter topics summarized
//	DLQ_READ_IDLE   2s                          a topic is read to its end after this long without a record
package dlq
