// Package chaos holds the chaos suite (issue #13 item 6): the pipeline on
// real Kafka, Redis and the S3 store, with its services, the broker and
// Redis killed with SIGKILL at seeded random moments, and then the books
// checked. See chaos_test.go.
package chaos
