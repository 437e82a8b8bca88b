module github.com/watershed-grid/watershed/contracts

go 1.25.0

require github.com/google/uuid v1.6.0
