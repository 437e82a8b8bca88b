// Package embedded runs a Kafka-protocol broker in-process, for development
// and tests: franz-go's kfake with a single node, listening on
// 127.0.0.1:9092 by default, with Watershed's topics created at start and,
// given a data directory, records, topics and committed offsets that survive
// a restart.
//
// It is what `watershed broker` and `watershed dev` run. It is not for
// production: it has no replication and keeps its index in memory.
package embedded
