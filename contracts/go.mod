module github.com/watershed-grid/watershed/contracts

go 1.25.0

require (
	github.com/google/uuid v1.6.0
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	golang.org/x/text v0.41.0
	gopkg.in/yaml.v3 v3.0.1
)
