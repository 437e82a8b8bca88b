// Package watermillbench holds the side-by-side benchmarks of the rivers
// SDK against a raw kafka-go loop and Watermill's router on Sarama
// (bench_test.go), in a module of its own so that Watermill and Sarama are
// in no service's dependencies. Results and how to read them:
// rivers/BENCHMARKS.md.
//
//	cd benchmarks/watermill && go test -run '^$' -bench . -benchtime 20x
package watermillbench
