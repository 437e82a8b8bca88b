package contracts

import (
	"embed"
	"io/fs"
)

//go:embed schemas
var schemaFiles embed.FS

// SchemaFS returns the event catalog's JSON Schemas as a read-only file
// system: "<type>.json" per event type and version at the root, and
// "history/<type>/<n>.json" for every published revision of each. Package
// catalog compiles and checks them.
func SchemaFS() fs.FS {
	sub, err := fs.Sub(schemaFiles, "schemas")
	if err != nil { // fs.Sub fails only on an invalid path literal
		panic(err)
	}
	return sub
}

//go:embed examples/*.json
var exampleFiles embed.FS

// ExampleFS returns the catalog's valid example payloads as a read-only
// file system: "<type>.json" for every event type, and
// "<type>.<case>.json" for further cases. The catalog's tests check each
// against its schema; `watershed new service` writes them into a new
// service's tests.
func ExampleFS() fs.FS {
	sub, err := fs.Sub(exampleFiles, "examples")
	if err != nil {
		panic(err)
	}
	return sub
}
