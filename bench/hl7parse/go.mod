module github.com/concord-health/concord/bench/hl7parse

go 1.26.8

require (
	github.com/concord-health/concord v0.0.0
	github.com/lenaten/hl7 v0.0.0-20181009090854-63c5c49a56d9
)

require golang.org/x/text v0.42.0 // indirect

replace github.com/concord-health/concord => ../..
