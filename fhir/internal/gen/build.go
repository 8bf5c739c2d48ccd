package main

import (
	"encoding/json"
	"fmt"

	"github.com/concord-health/concord/fhir/internal/defs"
)

// generator holds the state of one run.
type generator struct {
	version         string
	defs            defs.Defs
	sdByName        map[string]*structureDefinition
	constraintIndex map[defs.Constraint]int
	ele1            constraint
	excludedSeen    map[defs.Exclusion]bool
}

// result is what a run writes.
type result struct {
	defs          *defs.Defs
	resourceTypes []string
}

func build(files map[string][]byte) (*result, error) {
	g := &generator{
		version:         "4.0.1",
		constraintIndex: map[defs.Constraint]int{},
		excludedSeen:    map[defs.Exclusion]bool{},
	}
	g.defs.FHIRVersion = g.version
	g.defs.Source = npmPackage + "@" + npmVersion
	if err := g.findEle1(files); err != nil {
		return nil, err
	}
	if err := g.readTypes(files); err != nil {
		return nil, err
	}
	if err := g.readSearchParams(files); err != nil {
		return nil, err
	}
	if err := g.readValueSets(files); err != nil {
		return nil, err
	}
	if err := g.readCompartments(files); err != nil {
		return nil, err
	}
	return &result{defs: &g.defs, resourceTypes: g.resourceTypes()}, nil
}

// exclude records something left out or reverted, once.
func (g *generator) exclude(kind, name, reason string) {
	x := defs.Exclusion{Kind: kind, Name: name, Reason: reason}
	if g.excludedSeen[x] {
		return
	}
	g.excludedSeen[x] = true
	g.defs.Excluded = append(g.defs.Excluded, x)
}

// findEle1 finds ele-1, the constraint every element inherits from
// Element, in Element's differential.
func (g *generator) findEle1(files map[string][]byte) error {
	entries, err := bundle(files["profiles-types.json"])
	if err != nil {
		return err
	}
	for _, raw := range entries {
		var sd structureDefinition
		if resourceType(raw) != "StructureDefinition" {
			continue
		}
		if err := json.Unmarshal(raw, &sd); err != nil {
			return err
		}
		if sd.URL != sdPrefix+"Element" {
			continue
		}
		for _, c := range sd.Differential.Element[0].Constraint {
			if c.Key == "ele-1" {
				g.ele1 = c
				g.ele1.Source = sd.URL
				return nil
			}
		}
	}
	return fmt.Errorf("no ele-1 on Element")
}
