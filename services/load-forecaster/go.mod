module github.com/watershed-grid/watershed/services/load-forecaster

go 1.26.0

require (
	github.com/watershed-grid/watershed/contracts v0.0.0
	github.com/watershed-grid/watershed/rapids v0.0.0
	github.com/watershed-grid/watershed/rivers v0.0.0
)

replace (
	github.com/watershed-grid/watershed/contracts => ../../contracts
	github.com/watershed-grid/watershed/rapids => ../../rapids
	github.com/watershed-grid/watershed/rivers => ../../rivers
)
